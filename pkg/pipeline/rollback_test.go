package pipeline

import (
	"context"
	"path/filepath"
	"slices"
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
