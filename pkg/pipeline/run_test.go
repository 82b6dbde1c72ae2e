package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-deploy/baton/pkg/handoff"
)

// recorder is a Sink that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) Handle(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) kinds(stage string) []Kind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Kind
	for _, e := range r.events {
		if stage == "" || e.Stage == stage {
			out = append(out, e.Kind)
		}
	}
	return out
}

func (r *recorder) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, e := range r.events {
		fmt.Fprintf(&b, "%s %s %s %s %s\n", e.Kind, e.Stage, e.Line, e.Error, e.Reason)
		if e.Handoff != nil {
			fmt.Fprintf(&b, "  %+v\n", *e.Handoff)
		}
	}
	return b.String()
}

var (
	imageID = handoff.TemplateID
	hostsK  = handoff.NewString("hosts")
	reportK = handoff.NewString("report")
)

// threeStages is a Packer-like, Terraform-like and Ansible-like pipeline.
func threeStages(t *testing.T) (*Pipeline, *[]string) {
	t.Helper()
	var (
		mu  sync.Mutex
		ran []string
	)
	note := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		ran = append(ran, s)
	}
	p, err := New(
		Func("configure", []handoff.Def{hostsK}, []handoff.Def{reportK}, func(ctx context.Context, j *Job) error {
			note("configure")
			hosts, err := hostsK.Get(j.In)
			if err != nil {
				return err
			}
			return reportK.Put(j.Out, "configured "+hosts)
		}),
		Func("build", nil, []handoff.Def{imageID}, func(ctx context.Context, j *Job) error {
			note("build")
			return imageID.Put(j.Out, 8025)
		}),
		Func("provision", []handoff.Def{imageID}, []handoff.Def{hostsK}, func(ctx context.Context, j *Job) error {
			note("provision")
			id, err := imageID.Get(j.In)
			if err != nil {
				return err
			}
			return hostsK.Put(j.Out, fmt.Sprintf("3 hosts from %d", id))
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	return p, &ran
}

func noEnv(string) string { return "" }

func TestRunOrdersByHandoffsAndStoresThem(t *testing.T) {
	p, ran := threeStages(t)
	store, _ := handoff.OpenStore(t.TempDir())
	rec := &recorder{}
	sum, err := p.Run(context.Background(), Options{Store: store, Sinks: []Sink{rec}, Getenv: noEnv})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"build", "provision", "configure"}; !slices.Equal(*ran, want) {
		t.Errorf("ran %v, want %v", *ran, want)
	}
	if sum.Status != StatusSucceeded {
		t.Errorf("status = %s", sum.Status)
	}
	for _, st := range sum.Stages {
		if st.Status != StatusSucceeded || st.Attempts != 1 {
			t.Errorf("stage %s: %s after %d attempts", st.Name, st.Status, st.Attempts)
		}
	}
	v, err := store.Get(reportK)
	if err != nil {
		t.Fatal(err)
	}
	if v.Text() != "configured 3 hosts from 8025" || v.Stage != "configure" || v.RunID != sum.RunID {
		t.Errorf("stored report = %q by %q in %q", v.Text(), v.Stage, v.RunID)
	}
	if got := sum.Given()["template_id"].Display; got != "8025" {
		t.Errorf("summary template_id = %q", got)
	}
	used := sum.Stage("provision").Used
	if len(used) != 1 || used[0].Source != "stage" {
		t.Errorf("provision used %+v, want template_id from a stage", used)
	}
	kinds := rec.kinds("")
	if kinds[0] != RunStarted || kinds[len(kinds)-1] != RunFinished {
		t.Errorf("events begin with %s and end with %s", kinds[0], kinds[len(kinds)-1])
	}
}

func TestNewRejectsBadGraphs(t *testing.T) {
	a := handoff.NewString("a")
	b := handoff.NewString("b")
	noop := func(context.Context, *Job) error { return nil }
	tests := []struct {
		name   string
		stages []Stage
		want   string
	}{
		{name: "cycle", stages: []Stage{
			Func("one", []handoff.Def{a}, []handoff.Def{b}, noop),
			Func("two", []handoff.Def{b}, []handoff.Def{a}, noop),
		}, want: "cycle: one → two → one"},
		{name: "two givers", stages: []Stage{
			Func("one", nil, []handoff.Def{a}, noop),
			Func("two", nil, []handoff.Def{a}, noop),
		}, want: `handoff "a" is given by two stages, "one" and "two"`},
		{name: "duplicate name", stages: []Stage{Func("one", nil, nil, noop), Func("one", nil, nil, noop)}, want: `two stages are named "one"`},
		{name: "needs what it gives", stages: []Stage{Func("one", []handoff.Def{a}, []handoff.Def{a}, noop)}, want: "both needs and gives"},
		{name: "bad stage name", stages: []Stage{Func("Stage 1", nil, nil, noop)}, want: "stage name"},
		{name: "bad handoff name", stages: []Stage{Func("one", nil, []handoff.Def{handoff.NewString("Bad")}, noop)}, want: "handoff name"},
		{name: "after unknown", stages: []Stage{&seqStage{Stage: Func("one", nil, nil, noop), after: []string{"nope"}}}, want: `"nope", which is not in the pipeline`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.stages...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

type seqStage struct {
	Stage
	after []string
}

func (s *seqStage) After() []string { return s.after }

func TestMissingInputsFailBeforeAnythingRuns(t *testing.T) {
	p, ran := threeStages(t)
	rec := &recorder{}
	_, err := p.Run(context.Background(), Options{Only: []string{"provision", "configure"}, Sinks: []Sink{rec}, Getenv: noEnv, Hints: map[string]string{"template_id": "mage stage2 8025"}})
	var missing *handoff.MissingError
	if !errors.As(err, &missing) {
		t.Fatalf("err = %v, want a MissingError", err)
	}
	if missing.Stage != "provision" || missing.Producer != "build" || !strings.Contains(err.Error(), "mage stage2 8025") {
		t.Errorf("missing = %+v", missing)
	}
	if len(*ran) != 0 {
		t.Errorf("stages ran: %v", *ran)
	}
}

func TestRunSubsetTakesInputsFromOutside(t *testing.T) {
	p, ran := threeStages(t)
	store, _ := handoff.OpenStore(t.TempDir())
	env := map[string]string{"BATON_TEMPLATE_ID": "8030"}
	sum, err := p.Run(context.Background(), Options{From: "provision", Store: store, Getenv: func(k string) string { return env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"provision", "configure"}; !slices.Equal(*ran, want) {
		t.Errorf("ran %v, want %v", *ran, want)
	}
	if got := sum.Stage("provision").Used[0]; got.Source != "environment" || got.Display != "8030" {
		t.Errorf("provision used %+v, want 8030 from the environment", got)
	}
	*ran = nil
	// Alone, configure takes hosts from the store that the last run filled.
	if _, err := p.Run(context.Background(), Options{Only: []string{"configure"}, Store: store, Getenv: noEnv}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(*ran, []string{"configure"}) {
		t.Errorf("ran %v", *ran)
	}
	if _, err := p.Run(context.Background(), Options{Only: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "the stages are") {
		t.Errorf("unknown stage: err = %v", err)
	}
}

func TestFailureStopsTheRunAndNamesTheStage(t *testing.T) {
	boom := errors.New("terraform apply exploded")
	p, err := New(
		Func("build", nil, []handoff.Def{imageID}, func(ctx context.Context, j *Job) error { return imageID.Put(j.Out, 8025) }),
		Func("provision", []handoff.Def{imageID}, []handoff.Def{hostsK}, func(ctx context.Context, j *Job) error { return boom }),
		Func("configure", []handoff.Def{hostsK}, nil, func(ctx context.Context, j *Job) error {
			t.Error("configure ran after provision failed")
			return nil
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	store, _ := handoff.OpenStore(t.TempDir())
	sum, err := p.Run(context.Background(), Options{Store: store, Getenv: noEnv})
	var se *StageError
	if !errors.As(err, &se) || se.Stage != "provision" || !errors.Is(err, boom) {
		t.Fatalf("err = %v, want a StageError for provision wrapping the cause", err)
	}
	if sum.Status != StatusFailed || sum.Stage("configure").Status != StatusNotRun || sum.Stage("build").Status != StatusSucceeded {
		t.Errorf("statuses: run %s, build %s, configure %s", sum.Status, sum.Stage("build").Status, sum.Stage("configure").Status)
	}
	if _, err := store.Get(hostsK); !errors.Is(err, handoff.ErrNotStored) {
		t.Errorf("a failed stage's handoff was stored: %v", err)
	}
}

func TestRetryOnlyWhatIsMarkedRetryable(t *testing.T) {
	fast := RetryPolicy{Attempts: 3, Base: time.Millisecond, MaxWait: 2 * time.Millisecond}
	tests := []struct {
		name         string
		failures     int
		retryable    bool
		wantAttempts int
		wantStatus   Status
	}{
		{name: "fails once then succeeds", failures: 1, retryable: true, wantAttempts: 2, wantStatus: StatusSucceeded},
		{name: "fails every attempt", failures: 5, retryable: true, wantAttempts: 3, wantStatus: StatusFailed},
		{name: "final error is not retried", failures: 5, retryable: false, wantAttempts: 1, wantStatus: StatusFailed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			p, _ := New(Func("flaky", nil, nil, func(ctx context.Context, j *Job) error {
				calls++
				if j.Attempt != calls {
					t.Errorf("Job.Attempt = %d on call %d", j.Attempt, calls)
				}
				if calls <= tt.failures {
					err := errors.New("connection reset")
					if tt.retryable {
						return Retryable(err)
					}
					return err
				}
				return nil
			}))
			rec := &recorder{}
			sum, _ := p.Run(context.Background(), Options{DefaultPolicy: Policy{Retry: fast}, Sinks: []Sink{rec}})
			st := sum.Stage("flaky")
			if st.Attempts != tt.wantAttempts || st.Status != tt.wantStatus {
				t.Errorf("got %d attempts, %s; want %d, %s", st.Attempts, st.Status, tt.wantAttempts, tt.wantStatus)
			}
			if retries := slices.Index(rec.kinds("flaky"), StageRetrying) >= 0; retries != (tt.wantAttempts > 1) {
				t.Errorf("retrying events present = %v, want %v", retries, tt.wantAttempts > 1)
			}
		})
	}
}

func TestIndependentStagesRunConcurrently(t *testing.T) {
	// Each stage waits for the other to start: only concurrent runs finish.
	started := map[string]chan struct{}{"a": make(chan struct{}), "b": make(chan struct{})}
	stage := func(name, other string) Stage {
		return Func(name, nil, nil, func(ctx context.Context, j *Job) error {
			close(started[name])
			select {
			case <-started[other]:
				return nil
			case <-time.After(10 * time.Second):
				return errors.New("the other stage never started: stages ran one at a time")
			}
		})
	}
	p, _ := New(stage("a", "b"), stage("b", "a"))
	if _, err := p.Run(context.Background(), Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestParallelismOneRunsInOrder(t *testing.T) {
	var active, most int
	var mu sync.Mutex
	stage := func(name string) Stage {
		return Func(name, nil, nil, func(ctx context.Context, j *Job) error {
			mu.Lock()
			active++
			most = max(most, active)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			active--
			mu.Unlock()
			return nil
		})
	}
	p, _ := New(stage("a"), stage("b"), stage("c"))
	if _, err := p.Run(context.Background(), Options{Parallelism: 1}); err != nil {
		t.Fatal(err)
	}
	if most != 1 {
		t.Errorf("%d stages ran at once with Parallelism 1", most)
	}
}

func TestSequencerOrdersWithoutAHandoff(t *testing.T) {
	var order []string
	var mu sync.Mutex
	mark := func(name string) Stage {
		return Func(name, []handoff.Def{hostsK}, nil, func(ctx context.Context, j *Job) error {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, name)
			return nil
		})
	}
	p, err := New(
		&seqStage{Stage: mark("configure"), after: []string{"wait"}},
		mark("wait"),
	)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Run(context.Background(), Options{Args: map[string]string{"hosts": "h"}}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(order, []string{"wait", "configure"}) {
		t.Errorf("order = %v", order)
	}
	if !strings.Contains(p.Mermaid(), "wait -.->|after| configure") {
		t.Errorf("Mermaid lacks the ordering edge:\n%s", p.Mermaid())
	}
}

func TestCancelStopsRunningStagesGracefully(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	stopped := make(chan struct{})
	p, _ := New(
		Func("apply", nil, []handoff.Def{hostsK}, func(ctx context.Context, j *Job) error {
			close(started)
			<-ctx.Done()
			close(stopped)
			return fmt.Errorf("terraform apply: interrupted: %w", ctx.Err())
		}),
		Func("configure", []handoff.Def{hostsK}, nil, func(ctx context.Context, j *Job) error {
			t.Error("configure ran after cancel")
			return nil
		}),
	)
	store, _ := handoff.OpenStore(t.TempDir())
	go func() {
		<-started
		cancel()
	}()
	sum, err := p.Run(ctx, Options{Store: store, Grace: 5 * time.Second})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	select {
	case <-stopped:
	default:
		t.Error("Run returned before the stage stopped")
	}
	if sum.Status != StatusCancelled || sum.Stage("apply").Status != StatusCancelled || sum.Stage("configure").Status != StatusNotRun {
		t.Errorf("statuses: run %s, apply %s, configure %s", sum.Status, sum.Stage("apply").Status, sum.Stage("configure").Status)
	}
	entries, _ := os.ReadDir(store.Dir())
	if len(entries) != 0 {
		t.Errorf("store holds %d files after a cancelled run", len(entries))
	}
}

func TestHangingStageIsAbandonedAfterGrace(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	p, _ := New(Func("hang", nil, nil, func(ctx context.Context, j *Job) error {
		<-release // ignores ctx entirely
		return nil
	}))
	sum, err := p.Run(context.Background(), Options{
		DefaultPolicy: Policy{Timeout: 10 * time.Millisecond},
		Grace:         10 * time.Millisecond,
	})
	if err == nil || !strings.Contains(err.Error(), "did not stop within") || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want an abandoned-stage error wrapping DeadlineExceeded", err)
	}
	if sum.Stage("hang").Status != StatusFailed {
		t.Errorf("status = %s", sum.Stage("hang").Status)
	}
}

func TestTimeoutIsReportedAsSuch(t *testing.T) {
	p, _ := New(Func("slow", nil, nil, func(ctx context.Context, j *Job) error {
		<-ctx.Done()
		return errors.New("tool killed")
	}))
	_, err := p.Run(context.Background(), Options{DefaultPolicy: Policy{Timeout: 5 * time.Millisecond}})
	if err == nil || !strings.Contains(err.Error(), "timed out after 5ms") || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want a timeout", err)
	}
}

func TestStageMustGiveWhatItDeclares(t *testing.T) {
	tests := []struct {
		name string
		run  func(ctx context.Context, j *Job) error
		want string
	}{
		{name: "gives nothing", run: func(ctx context.Context, j *Job) error { return nil }, want: `without giving handoff "template_id"`},
		{name: "gives extra", run: func(ctx context.Context, j *Job) error {
			imageID.Put(j.Out, 8025)
			return reportK.Put(j.Out, "x")
		}, want: `gave handoff "report", which it does not declare`},
		{name: "gives invalid", run: func(ctx context.Context, j *Job) error {
			j.Out.Set(handoff.Value{Name: "template_id", Raw: []byte("7")})
			return nil
		}, want: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := New(Func("build", nil, []handoff.Def{imageID}, tt.run))
			_, err := p.Run(context.Background(), Options{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestPanicBecomesAnError(t *testing.T) {
	p, _ := New(Func("oops", nil, nil, func(ctx context.Context, j *Job) error { panic("nil map") }))
	_, err := p.Run(context.Background(), Options{})
	if err == nil || !strings.Contains(err.Error(), "stage panicked: nil map") {
		t.Errorf("err = %v", err)
	}
}

type plannedStage struct {
	Stage
	planned *[]string
}

func (s plannedStage) Plan(ctx context.Context, j *Job) error {
	*s.planned = append(*s.planned, s.Name())
	return nil
}

func TestPlanChangesNothingAndSkipsWhatItCannotKnow(t *testing.T) {
	var planned []string
	ranReal := false
	real := func(ctx context.Context, j *Job) error { ranReal = true; return nil }
	p, _ := New(
		plannedStage{Func("build", nil, []handoff.Def{imageID}, real), &planned},
		plannedStage{Func("provision", []handoff.Def{imageID}, []handoff.Def{hostsK}, real), &planned},
		Func("report", []handoff.Def{hostsK}, nil, real),
	)
	store, _ := handoff.OpenStore(t.TempDir())
	rec := &recorder{}
	sum, err := p.Plan(context.Background(), Options{Store: store, Getenv: noEnv, Sinks: []Sink{rec}})
	if err != nil {
		t.Fatal(err)
	}
	if ranReal {
		t.Error("Plan called Run")
	}
	if !slices.Equal(planned, []string{"build"}) {
		t.Errorf("planned %v, want just build (provision has no template ID yet)", planned)
	}
	if r := sum.Stage("provision").Reason; !strings.Contains(r, "needs template_id") || !strings.Contains(r, "build gives it") {
		t.Errorf("provision skip reason = %q", r)
	}
	if sum.Stage("report").Status != StatusSkipped {
		t.Errorf("report status = %s", sum.Stage("report").Status)
	}
	// Once a template ID is stored, provision plans with it.
	raw, _ := imageID.Encode(8025)
	store.Put(handoff.Value{Name: "template_id", Raw: raw})
	planned = nil
	if _, err := p.Plan(context.Background(), Options{Store: store, Getenv: noEnv}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(planned, []string{"build", "provision"}) {
		t.Errorf("planned %v", planned)
	}
	entries, _ := os.ReadDir(store.Dir())
	if len(entries) != 1 {
		t.Errorf("plan wrote to the store: %d files", len(entries))
	}
}

func TestSkippedStageReusesStoredHandoffs(t *testing.T) {
	store, _ := handoff.OpenStore(t.TempDir())
	raw, _ := imageID.Encode(8025)
	store.Put(handoff.Value{Name: "template_id", Raw: raw, Stage: "build", RunID: "old"})
	var got int
	p, _ := New(
		Func("build", nil, []handoff.Def{imageID}, func(ctx context.Context, j *Job) error { return Skip("inputs unchanged") }),
		Func("provision", []handoff.Def{imageID}, nil, func(ctx context.Context, j *Job) error {
			var err error
			got, err = imageID.Get(j.In)
			return err
		}),
	)
	sum, err := p.Run(context.Background(), Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	if got != 8025 {
		t.Errorf("provision got %d", got)
	}
	if st := sum.Stage("build"); st.Status != StatusSkipped || st.Reason != "inputs unchanged" || len(st.Given) != 1 {
		t.Errorf("build = %+v", st)
	}
	v, _ := store.Get(imageID)
	if v.RunID != "old" {
		t.Errorf("reused handoff was rewritten with run %q", v.RunID)
	}
}

func TestSecretsNeverReachEvents(t *testing.T) {
	token := handoff.NewString("token").Secret()
	p, _ := New(
		Func("vault", nil, []handoff.Def{token}, func(ctx context.Context, j *Job) error {
			return token.Put(j.Out, "s3cr3t-value")
		}),
		Func("use", []handoff.Def{token}, nil, func(ctx context.Context, j *Job) error {
			w := j.Output("stdout")
			fmt.Fprintf(w, "connecting with s3cr3t-value and env-secret-1\n")
			w.Close()
			return errors.New("auth failed for s3cr3t-value")
		}),
	)
	rec := &recorder{}
	dir := t.TempDir()
	sum, err := p.Run(context.Background(), Options{Sinks: []Sink{rec}, RunDir: dir, Secrets: []string{"env-secret-1"}})
	if err == nil || !strings.Contains(err.Error(), "auth failed for ***") {
		t.Errorf("the run's error = %v, want the stage's error, redacted", err)
	}
	all := rec.text() + sum.Error + err.Error()
	for _, secret := range []string{"s3cr3t-value", "env-secret-1"} {
		if strings.Contains(all, secret) {
			t.Errorf("secret %q reached the events:\n%s", secret, all)
		}
	}
	if !strings.Contains(all, "connecting with *** and ***") {
		t.Errorf("redacted line missing:\n%s", all)
	}
	kept, err := os.ReadFile(filepath.Join(dir, "use", "stdout.log"))
	if err != nil {
		t.Fatal(err)
	}
	if string(kept) != "connecting with *** and ***\n" {
		t.Errorf("kept output = %q", kept)
	}
}

func TestRunRecordsOutputLinesInOrder(t *testing.T) {
	p, _ := New(Func("tool", nil, nil, func(ctx context.Context, j *Job) error {
		w := j.Output("stdout")
		defer w.Close()
		fmt.Fprint(w, "one\ntw")
		fmt.Fprint(w, "o\r\nthree")
		j.Printf("note %d", 4)
		return nil
	}))
	rec := &recorder{}
	if _, err := p.Run(context.Background(), Options{Sinks: []Sink{rec}}); err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range rec.events {
		if e.Kind == LogLine {
			lines = append(lines, e.Stream+":"+e.Line)
		}
	}
	want := []string{"stdout:one", "stdout:two", "baton:note 4", "stdout:three"}
	if !slices.Equal(lines, want) {
		t.Errorf("lines = %q, want %q", lines, want)
	}
}
