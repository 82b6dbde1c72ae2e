package webhook

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestView: the web view answers GET and HEAD for the paths the server
// does not own; the hooks, /healthz and /runs stay the server's, and other
// methods still get 404.
func TestView(t *testing.T) {
	view := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "view of "+r.URL.Path) })
	s, err := New(Options{Hooks: []Hook{{Name: "gh", Provider: GitHub, Secret: testSecret, Env: "prod"}}, Deploy: newFakeDeploy().deploy, StateDir: t.TempDir(), View: view})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/", 200, "view of /"},
		{"GET", "/history", 200, "view of /history"},
		{"HEAD", "/envs/prod", 200, ""},
		{"POST", "/", 404, "no such endpoint"},
		{"GET", "/healthz", 200, "ok"},
	} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
		if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.body) {
			t.Errorf("%s %s = %d %q, want %d %q", tt.method, tt.path, rec.Code, rec.Body.String(), tt.code, tt.body)
		}
	}
	if r, p, n, ok := s.Queue("prod"); !ok || r != "" || p != "" || n != 0 {
		t.Errorf("Queue(prod) = %q %q %d %v, want an empty queue", r, p, n, ok)
	}
	if _, _, _, ok := s.Queue("staging"); ok {
		t.Error("Queue(staging): no hook deploys it")
	}
}
