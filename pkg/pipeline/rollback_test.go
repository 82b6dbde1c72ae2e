package pipeline

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/baton-deploy/baton/pkg/handoff"
)

// undoable is a stage that records when it is undone and what it was told
// it had made.
type undoable struct {
	Stage
	mu    *sync.Mutex
	order *[]string
	saw   map[string]string
}

func (u *undoable) Rollback(ctx context.Context, j *Job) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	*u.order = append(*u.order, u.Name())
	for _, v := range j.In.All() {
		u.saw[v.Name] = string(v.Raw)
	}
	return nil
}

func TestRollbackRunsInReverseOrderWithStoredValues(t *testing.T) {
	store, err := handoff.OpenStore(filepath.Join(t.TempDir(), "h"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var order []string
	mk := func(s Stage) *undoable { return &undoable{Stage: s, mu: &mu, order: &order, saw: map[string]string{}} }
	build := mk(Func("build", nil, []handoff.Def{imageID}, func(ctx context.Context, j *Job) error { return imageID.Put(j.Out, 8025) }))
	provision := mk(Func("provision", []handoff.Def{imageID}, []handoff.Def{hostsK}, func(ctx context.Context, j *Job) error { return hostsK.Put(j.Out, "a,b") }))
	configure := Func("configure", []handoff.Def{hostsK}, nil, func(ctx context.Context, j *Job) error { return nil })
	p, err := New(build, provision, configure)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Store: store, Getenv: func(string) string { return "" }}
	if _, err := p.Run(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	sum, err := p.Rollback(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"provision", "build"}; !slices.Equal(order, want) {
		t.Errorf("rollback order = %v, want %v", order, want)
	}
	if got := provision.saw["hosts"]; got != `"a,b"` {
		t.Errorf("provision's rollback saw hosts = %q, want what it gave", got)
	}
	if got := provision.saw["template_id"]; got != "8025" {
		t.Errorf("provision's rollback saw template_id = %q, want its input", got)
	}
	if st := sum.Stages[2]; st.Status != StatusSkipped || st.Reason != "has no rollback" {
		t.Errorf("configure: %s %q, want skipped for having no rollback", st.Status, st.Reason)
	}
}

// checker is a stage whose check fails when told to.
type checker struct {
	Stage
	fail bool
	ran  *[]string
	mu   *sync.Mutex
}

func (c *checker) Check(ctx context.Context, j *Job) error {
	c.mu.Lock()
	*c.ran = append(*c.ran, c.Name())
	c.mu.Unlock()
	if c.fail {
		return fmt.Errorf("%s is unwell", c.Name())
	}
	return nil
}

func TestCheckRunsEveryCheckAndReportsEachFailure(t *testing.T) {
	var mu sync.Mutex
	var ran []string
	noop := func(ctx context.Context, j *Job) error { return nil }
	a := &checker{Stage: Func("a", nil, []handoff.Def{imageID}, noop), fail: true, ran: &ran, mu: &mu}
	b := &checker{Stage: Func("b", []handoff.Def{imageID}, nil, noop), ran: &ran, mu: &mu}
	c := &checker{Stage: Func("c", []handoff.Def{imageID}, nil, noop), fail: true, ran: &ran, mu: &mu}
	p, _ := New(a, b, c)
	sum, err := p.Check(context.Background(), Options{Args: map[string]string{"template_id": "8025"}})
	if len(ran) != 3 {
		t.Errorf("checks run = %v, want all three", ran)
	}
	if err == nil || !strings.Contains(err.Error(), "a is unwell") || !strings.Contains(err.Error(), "c is unwell") {
		t.Errorf("err = %v, want both failures", err)
	}
	if sum.Stages[1].Status != StatusSucceeded {
		t.Errorf("b = %s, want succeeded", sum.Stages[1].Status)
	}
}
