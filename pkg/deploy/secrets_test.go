package deploy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/baton-deploy/baton/internal/testlab"
)

func TestRunSecrets(t *testing.T) {
	dir := t.TempDir()
	wrapper := testlab.WriteScript(t, dir, "give secrets", `export APP_TOKEN=tok-from-wrapper DOPPLER_PROJECT=lab PATH="$PATH:/nowhere" LC_ALL=C.UTF-8
exec "$@"
`)
	t.Setenv("DB_PASSWORD", "pw-from-env")
	t.Setenv("BATON_LEDGER", "")
	t.Setenv("BATON_NOTIFY_SLACK_URL", "https://hooks.slack.com/services/T0/B0/xyz")
	ctx := context.Background()
	p := &Project{opts: Options{Getenv: os.Getenv, Environ: os.Environ}}

	t.Run("wrapper and names", func(t *testing.T) {
		t.Setenv(envWrapper, fmt.Sprintf("%q", wrapper))
		t.Setenv(envSecrets, "DB_PASSWORD, APP_TOKEN")
		argv, err := p.wrapperSetting()
		if err != nil || !slices.Equal(argv, []string{wrapper}) {
			t.Fatalf("wrapperSetting = %q, %v", argv, err)
		}
		got, err := p.runSecrets(ctx, argv)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"https://hooks.slack.com/services/T0/B0/xyz", "pw-from-env", "tok-from-wrapper"}
		if !slices.Equal(got, want) {
			t.Errorf("secrets = %q, want %q (what the wrapper adds, the names listed, baton's own; not PATH, DOPPLER_PROJECT or LC_ALL)", got, want)
		}
	})

	t.Run("notification URL in a file", func(t *testing.T) {
		t.Setenv(envWrapper, "")
		t.Setenv(envSecrets, "")
		t.Setenv("BATON_NOTIFY_SLACK_URL", "")
		f := filepath.Join(dir, "url")
		os.WriteFile(f, []byte("https://hooks.example.com/from-a-file\n"), 0o600)
		t.Setenv("BATON_NOTIFY_WEBHOOK_URL_FILE", f)
		got, err := p.runSecrets(ctx, nil)
		if err != nil || !slices.Equal(got, []string{"https://hooks.example.com/from-a-file"}) {
			t.Errorf("secrets = %q, %v; want the file's URL", got, err)
		}
	})

	t.Run("without a wrapper", func(t *testing.T) {
		t.Setenv(envWrapper, "")
		t.Setenv(envSecrets, "DB_PASSWORD")
		got, err := p.runSecrets(ctx, nil)
		if err != nil || !slices.Contains(got, "pw-from-env") || slices.Contains(got, "tok-from-wrapper") {
			t.Errorf("secrets = %q, %v", got, err)
		}
	})

	for _, tc := range []struct {
		name, wrapper, secrets, want string
	}{
		{"unset name", "", "NOT_SET_ANYWHERE", "BATON_SECRETS names NOT_SET_ANYWHERE, which is not set in the environment"},
		{"unset with wrapper", fmt.Sprintf("%q", wrapper), "NOT_SET_ANYWHERE", "not set in the environment or by the wrappers (BATON_WRAPPER"},
		{"bad name", "", "DB-PASSWORD", `"DB-PASSWORD" is not a variable name`},
		{"missing wrapper", "no-such-wrapper run --", "", `BATON_WRAPPER: exec: "no-such-wrapper": executable file not found`},
		{"unclosed quote", `doppler "run`, "", "BATON_WRAPPER: unterminated \" quote"},
		{"failing wrapper", testlab.WriteScript(t, dir, "fail", "echo 'not logged in' >&2; exit 1\n") + " --token dp.st.s3cr3t --", "",
			"failed when run on `env -0` to see what it gives the tools: exit status 1:\nnot logged in"},
		{"wrapper that ignores its command", testlab.WriteScript(t, dir, "ignore", "exit 0\n"), "", "gave its command no environment at all"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(envWrapper, tc.wrapper)
			t.Setenv(envSecrets, tc.secrets)
			argv, err := p.wrapperSetting()
			if err == nil {
				_, err = p.runSecrets(ctx, argv)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("the error shows the wrapper's arguments: %v", err)
			}
		})
	}
}
