// Package homelab_test runs examples/homelab/baton.hcl — five stages,
// Terraform twice — through baton's targets against the real tools.
package homelab_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/baton-deploy/baton/internal/testlab"
	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/targets"
)

// get fetches a page, retrying for up to 10 s while the web service binds.
func get(t *testing.T, url string) string {
	t.Helper()
	var last error
	for i := 0; i < 50; i++ {
		resp, err := http.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return string(body)
			}
			last = err
		} else {
			last = err
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, last)
	return ""
}

var appURLs = handoff.NewValue("terraform.apps.app_urls")

func urls(t *testing.T, state string) map[string]string {
	t.Helper()
	store, err := handoff.OpenStore(filepath.Join(state, "handoffs"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := store.Get(appURLs)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(v.Raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestHomelabFiveStagesEndToEnd(t *testing.T) {
	for _, tool := range []string{"packer", "terraform", "ansible-playbook", "sshd", "ssh"} {
		testlab.Require(t, tool)
	}
	rc := filepath.Join(t.TempDir(), "terraform.rc")
	os.WriteFile(rc, nil, 0o600)
	t.Setenv("TF_CLI_CONFIG_FILE", rc)
	root := t.TempDir()
	dir, _ := filepath.Abs(".")
	t.Setenv("BATON_ROOT", root)
	t.Setenv("BATON_PIPELINE", dir)
	t.Setenv("BATON_ENV", "")
	t.Setenv("BATON_FORCE", "")
	t.Setenv("BATON_HOSTS", "3")
	t.Setenv("HOMELAB_BASE_ADDRESS", "21")
	port := testlab.FreePort(t, "127.0.0.21")
	// Runs last, after the destroy below: no host of the test survives it.
	testlab.Reap(t, root, testlab.Addrs(21, 8), port)
	t.Setenv("BATON_LAB_PORT", strconv.Itoa(port))
	t.Setenv("BATON_APP_PORT", strconv.Itoa(testlab.FreePort(t, "127.0.0.21")))
	t.Setenv("HOMELAB_STACK", "whoami")
	t.Setenv("HOMELAB_STACK_VERSION", "1")
	out := &testlab.Buffer{}
	old := targets.SetOutput(out)
	ctx := context.Background()
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			targets.Destroy(ctx)
		}
		targets.SetOutput(old)
	})
	state := filepath.Join(root, ".baton", "homelab")
	if err := targets.Deploy(ctx); err != nil {
		t.Fatalf("deploy: %v\n%s", err, out)
	}
	got := urls(t, state)
	if len(got) != 2 {
		t.Fatalf("app urls = %v, want one per web host", got)
	}
	for host, url := range got {
		if page := get(t, url); !strings.Contains(page, "whoami 1 on "+host) {
			t.Errorf("%s serves %q", url, page)
		}
	}
	// A new stack version changes only the apps stage.
	t.Setenv("HOMELAB_STACK_VERSION", "2")
	mark := len(out.String())
	if err := targets.Deploy(ctx); err != nil {
		t.Fatalf("second deploy: %v\n%s", err, out)
	}
	second := out.String()[mark:]
	for _, unchanged := range []string{"packer.image", "terraform.infra"} {
		if !strings.Contains(second, unchanged+" ") || !strings.Contains(second, "skipped (unchanged)") {
			t.Errorf("second deploy did not skip %s:\n%s", unchanged, second)
		}
	}
	for host, url := range urls(t, state) {
		if page := get(t, url); !strings.Contains(page, "whoami 2 on "+host) {
			t.Errorf("after the update %s serves %q", url, page)
		}
	}
	if err := targets.Destroy(ctx); err != nil {
		t.Fatalf("destroy: %v\n%s", err, out)
	}
	destroyed = true
	for _, url := range got {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			t.Errorf("%s still answers after destroy", url)
		}
	}
}
