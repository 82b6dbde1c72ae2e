package targets

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/baton-deploy/baton/pkg/pipeline"
	"github.com/baton-deploy/baton/pkg/stages"
)

// The library's error for a missing tool says how to install it by hand;
// the targets add that `go run mage.go tools` installs it, for the tools
// that target installs and only those.
func TestToolsHint(t *testing.T) {
	// A real run of the library with nothing on PATH: the error as the
	// pipeline returns it, wrapped in its stage error.
	t.Setenv("PATH", t.TempDir())
	p, err := pipeline.New(&stages.Command{StageName: "smoke", Argv: []string{"ansible-inventory", "--list"}})
	if err != nil {
		t.Fatal(err)
	}
	_, runErr := p.Run(context.Background(), pipeline.Options{})
	if _, ok := errors.AsType[*stages.MissingToolError](runErr); !ok {
		t.Fatalf("run error = %v, want a *stages.MissingToolError", runErr)
	}
	if strings.Contains(runErr.Error(), "mage") {
		t.Fatalf("the library's error names Mage: %q", runErr)
	}
	missing := func(tool, path string) error {
		return &pipeline.StageError{Stage: "s", Err: fmt.Errorf("s: %w", &stages.MissingToolError{Tool: tool, Path: path, Install: "install it by hand"})}
	}
	const hint = "`go run mage.go tools`"
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"from a real run", runErr, true},
		{"a tool the target installs", missing("terraform", ""), true},
		{"among several stage errors", errors.Join(errors.New("other stage failed"), missing("packer", "")), true},
		{"a tool the target does not install", missing("tflint", ""), false},
		{"a configured path that is wrong", missing("packer", "/opt/packer"), false},
		{"not a missing tool", errors.New("exit status 1"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := toolsHint(tc.err)
			if strings.Contains(got.Error(), hint) != tc.want {
				t.Errorf("toolsHint(%q) = %q, want the tools hint: %v", tc.err, got, tc.want)
			}
			if !errors.Is(got, tc.err) {
				t.Errorf("toolsHint(%q) no longer wraps the error", tc.err)
			}
			if n := strings.Count(got.Error(), hint); n > 1 {
				t.Errorf("the hint is there %d times: %q", n, got)
			}
		})
	}
}
