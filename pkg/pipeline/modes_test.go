package pipeline

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

// declaredModes reads the Mode constants from summary.go, so that a mode
// added there without rules fails the test below.
func declaredModes(t *testing.T) []Mode {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "summary.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []Mode
	for _, decl := range f.Decls {
		g, ok := decl.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, spec := range g.Specs {
			vs := spec.(*ast.ValueSpec)
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Mode" {
				continue
			}
			for _, v := range vs.Values {
				lit := v.(*ast.BasicLit)
				out = append(out, Mode(strings.Trim(lit.Value, `"`)))
			}
		}
	}
	return out
}

func TestEveryModeHasRules(t *testing.T) {
	declared := declaredModes(t)
	if len(declared) < 4 {
		t.Fatalf("found the modes %v in summary.go, want at least run, plan, check and rollback", declared)
	}
	for _, m := range declared {
		r, err := rulesOf(m)
		if err != nil {
			t.Errorf("mode %s: %v", m, err)
			continue
		}
		if r.method == nil {
			t.Errorf("mode %s has no method", m)
		}
	}
	if len(modes) != len(declared) {
		t.Errorf("modes has %d entries, summary.go declares %d modes (%v)", len(modes), len(declared), declared)
	}
}

func TestUnknownModeIsRefusedBeforeAnythingRuns(t *testing.T) {
	ran := false
	p, err := New(Func("only", nil, nil, func(context.Context, *Job) error { ran = true; return nil }))
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.run(context.Background(), Mode("deploy"), Options{RunDir: t.TempDir(), Getenv: noEnv})
	if err == nil || !strings.Contains(err.Error(), `unknown mode "deploy"`) || !strings.Contains(err.Error(), "rollback") {
		t.Errorf("run in mode deploy: %v, want an error naming the mode and the modes there are", err)
	}
	if ran {
		t.Error("a stage ran in an unknown mode")
	}
}

// planOnly is a stage that can plan but neither check nor roll back.
type planOnly struct{ Stage }

func (planOnly) Plan(context.Context, *Job) error { return errPlanned }

var errPlanned = &SkipError{Reason: "planned"}

func TestModeMethodIsTheStagesOwn(t *testing.T) {
	s := planOnly{Func("p", nil, nil, func(context.Context, *Job) error { return nil })}
	tests := []struct {
		mode    Mode
		want    error // what the method returns; nil for Run
		present bool
	}{
		{ModeRun, nil, true},
		{ModePlan, errPlanned, true},
		{ModeCheck, nil, false},
		{ModeRollback, nil, false},
	}
	for _, tt := range tests {
		r, err := rulesOf(tt.mode)
		if err != nil {
			t.Errorf("mode %s: %v", tt.mode, err)
			continue
		}
		fn, ok := r.method(s)
		if ok != tt.present {
			t.Errorf("mode %s: method found = %v, want %v", tt.mode, ok, tt.present)
			continue
		}
		if !ok {
			continue
		}
		if got := fn(context.Background(), &Job{}); got != tt.want {
			t.Errorf("mode %s: method returned %v, want %v", tt.mode, got, tt.want)
		}
	}
}
