package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/baton-deploy/baton/internal/testlab"
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

func TestHomelabFiveStagesEndToEnd(t *testing.T) {
	for _, tool := range []string{"packer", "terraform", "ansible-playbook", "sshd", "ssh"} {
		testlab.Require(t, tool)
	}
	rc := t.TempDir() + "/terraform.rc"
	os.WriteFile(rc, nil, 0o600)
	t.Setenv("TF_CLI_CONFIG_FILE", rc)
	l := Lab{Repo: "../..", State: t.TempDir(), Hosts: 3, SSHPort: testlab.FreePort(t, "127.0.0.13"), AppPort: testlab.FreePort(t, "127.0.0.13"), Stack: "whoami", StackVersion: "1"}
	ctx := context.Background()
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			l.Destroy(ctx)
		}
	})
	urls, err := l.Deploy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(urls) != 2 {
		t.Fatalf("app urls = %v, want one per web host", urls)
	}
	for host, url := range urls {
		if page := get(t, url); !strings.Contains(page, "whoami 1 on "+host) {
			t.Errorf("%s serves %q", url, page)
		}
	}
	// A new stack version changes only the apps stage.
	l.StackVersion = "2"
	if urls, err = l.Deploy(ctx); err != nil {
		t.Fatal(err)
	}
	for host, url := range urls {
		if page := get(t, url); !strings.Contains(page, "whoami 2 on "+host) {
			t.Errorf("after the update %s serves %q", url, page)
		}
	}
	if err := l.Destroy(ctx); err != nil {
		t.Fatal(err)
	}
	destroyed = true
	for _, url := range urls {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			t.Errorf("%s still answers after destroy", url)
		}
	}
}
