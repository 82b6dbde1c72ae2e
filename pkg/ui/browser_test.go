package ui

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/baton-deploy/baton/internal/testlab"
	"github.com/chromedp/chromedp"
)

// chromium finds a Chromium to drive: missing, the browser test skips,
// unless BATON_E2E=required says the tools must be there.
func chromium(t *testing.T) string {
	testlab.SkipIfOff(t)
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("BATON_E2E") == "required" {
		t.Fatal("BATON_E2E=required and no chromium: apt-get install -y --no-install-recommends chromium")
	}
	t.Skip("no chromium to test the pages in a browser (apt-get install chromium; BATON_E2E=required makes this a failure)")
	return ""
}

// TestBrowser opens the pages of the standard fixture in headless
// Chromium, checks what they show, saves a screenshot of each under the
// test's temp dir (and BATON_UI_SHOTS when set, to look at them) and
// that the console logged no error — the policy blocking something the
// page wanted would be one.
func TestBrowser(t *testing.T) {
	bin := chromium(t)
	f, done := standard(t)
	defer done()
	// A running run's page reloads; not while the test reads it.
	h := newView(t, f, func(o *Options) { o.Refresh = 10 * time.Minute })
	srv := httptest.NewServer(h)
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1360, 900))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 2*time.Minute)
	defer cancelT()

	// Every console message and browser log entry, from the first page on.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	messages := chromedp.Console(ctx)
	var mu sync.Mutex
	var problems []string
	read := make(chan struct{})
	go func() {
		defer close(read)
		for m, err := range messages {
			if err != nil {
				return
			}
			switch m.Type {
			case chromedp.ConsoleWarning, chromedp.ConsoleError, chromedp.ConsoleException:
				mu.Lock()
				problems = append(problems, fmt.Sprintf("%s: %s (%s)", m.Type, m.Text, m.URL))
				mu.Unlock()
			}
		}
	}()

	shots := []string{t.TempDir()}
	if d := os.Getenv("BATON_UI_SHOTS"); d != "" {
		shots = append(shots, d)
	}
	for _, tc := range []struct {
		name, path string
		want       []string
	}{
		{"environments", "/", []string{"prod", "staging", "dev", "empty", "CURRENT RELEASE", "8025", "20260301T120000-cccc",
			"destroyed", "Destroyed by run 20260301T093000-d0d0", "never deployed", "Locked by run 20260301T150000-9999", "3 hosts answer SSH"}},
		{"history", "/history", []string{"11 runs", "20260301T150000-9999", "20260301T100000-aaaa", "8026", "succeeded", "failed", "cancelled", "running"}},
		{"history-filtered", "/history?env=prod&result=failed", []string{"2 runs", "20260301T130000-eeee", "20260301T141000-1eak"}},
		{"run-succeeded", "/envs/prod/runs/20260301T110000-bbbb", []string{"Run 20260301T110000-bbbb", "8026", "packer", "terraform", "wait", "ansible",
			"succeeded", "Apply complete!", "sha256:"}},
		{"run-failed", "/envs/prod/runs/20260301T130000-eeee", []string{"20260301T130000-eeee", "failed", "TASK [app : deploy] failed on web-2"}},
		{"run-cancelled", "/envs/prod/runs/20260301T140000-ffff", []string{"20260301T140000-ffff", "cancelled", "context canceled"}},
		{"run-running", "/envs/prod/runs/20260301T150000-9999", []string{"20260301T150000-9999", "still going", "running", "pending", "8029"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+tc.path), chromedp.WaitVisible(chromedp.CSS("main"))); err != nil {
				t.Fatal(err)
			}
			text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			if err != nil {
				t.Fatal(err)
			}
			refresh, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('meta[http-equiv="refresh"]') !== null`))
			if err != nil {
				t.Fatal(err)
			}
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("%s shows no %q; it shows:\n%s", tc.path, w, text)
				}
			}
			if want := tc.name == "run-running"; refresh != want {
				t.Errorf("%s: refreshes %v, want %v", tc.path, refresh, want)
			}
			for _, dir := range shots {
				if err := os.WriteFile(filepath.Join(dir, tc.name+".png"), png, 0o644); err != nil {
					t.Error(err)
				}
			}
		})
	}
	// The messages of the last page may still be on their way: a last
	// navigation, to a page of its own, comes after them.
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/ui.css")); err != nil {
		t.Fatal(err)
	}
	cancelT()
	<-read
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("the browser reported: %s", p)
	}
}
