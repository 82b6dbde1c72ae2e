package webhook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "baton-serve.yml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfig(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("from-a-file-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(writeConfig(t, `
allow: [192.168.1.0/24, 10.0.0.1]
timeout: 10m
hooks:
  deploy:
    provider: github
    secret_env: HOOK_SECRET
    branches: [main, release/*]
  lab:
    provider: forgejo
    secret_file: `+secretFile+`
    env: lab
    events: [Push]
    update: [git, pull, --ff-only]
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:8099" {
		t.Errorf("default listen %q, want loopback", c.Listen)
	}
	o, err := c.Options(func(k string) string { return map[string]string{"HOOK_SECRET": "from-the-environment"}[k] }, "local")
	if err != nil {
		t.Fatal(err)
	}
	hooks := map[string]Hook{}
	for _, h := range o.Hooks {
		hooks[h.Name] = h
	}
	if h := hooks["deploy"]; string(h.Secret) != "from-the-environment" || h.Env != "local" || len(h.Branches) != 2 {
		t.Errorf("deploy hook: %+v", h)
	}
	if h := hooks["lab"]; string(h.Secret) != "from-a-file-0123456789" || h.Provider != Gitea || h.Env != "lab" || h.Events[0] != "push" {
		t.Errorf("lab hook: %+v", h)
	}
	if o.Timeout != 10*time.Minute || len(o.Allow) != 2 || o.Allow[1].Bits() != 32 {
		t.Errorf("options: %+v", o)
	}
	if c.Hooks["lab"].Update[2] != "--ff-only" {
		t.Errorf("update: %v", c.Hooks["lab"].Update)
	}
}

func TestConfigErrors(t *testing.T) {
	open := filepath.Join(t.TempDir(), "open")
	if err := os.WriteFile(open, []byte("readable-by-everyone-1234"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, text, want string }{
		{"secret inline", "hooks:\n  d:\n    provider: github\n    secret: hunter2hunter2hunter2\n", "must not be written in the configuration file"},
		{"misspelt key", "hooks:\n  d:\n    provider: github\n    secret_evn: X\n", "secret_evn"},
		{"bad duration", "timeout: soon\nhooks:\n  d: {provider: github, secret_env: S}\n", "not a duration"},
		{"unset env", "hooks:\n  d: {provider: github, secret_env: NOT_SET_ANYWHERE}\n", "NOT_SET_ANYWHERE"},
		{"world-readable file", "hooks:\n  d: {provider: github, secret_file: " + open + "}\n", "chmod 600"},
		{"no secret", "hooks:\n  d: {provider: github}\n", "no secret"},
		{"unknown provider", "hooks:\n  d: {provider: bitbucket, secret_env: S}\n", "unknown provider"},
		{"half TLS", "tls_cert: c.pem\nhooks:\n  d: {provider: github, secret_env: S}\n", "tls_cert and tls_key"},
		{"no hooks", "listen: 127.0.0.1:1\n", "no hooks"},
		{"bad network", "allow: [lan]\nhooks:\n  d: {provider: github, secret_env: S}\n", "neither a network"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := LoadConfig(writeConfig(t, c.text))
			if err == nil {
				_, err = cfg.Options(func(k string) string { return map[string]string{"S": "a-secret-long-enough"}[k] }, "local")
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("the error repeats the secret: %v", err)
			}
		})
	}
}

func TestShortSecretRefused(t *testing.T) {
	_, err := New(Options{Hooks: []Hook{{Name: "d", Provider: GitHub, Secret: []byte("short"), Env: "e"}}, Deploy: newFakeDeploy().deploy, StateDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "at least 16") {
		t.Errorf("a 5-byte secret: %v", err)
	}
}
