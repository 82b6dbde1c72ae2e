package stages

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/baton-deploy/baton/pkg/pipeline"
)

// fakeProvider is the provider the mirror serves: init installs it, and
// nothing here ever starts it.
const fakeProvider = "#!/bin/sh\necho 'baton/fake is a test provider: it serves nothing' >&2\nexit 1\n"

// fakeProviderMirror writes a filesystem mirror holding baton/fake 0.0.1
// for this platform and a CLI configuration that installs baton/* from it
// (and everything else as usual), and points TF_CLI_CONFIG_FILE at it.
func fakeProviderMirror(t *testing.T) {
	t.Helper()
	mirror := filepath.Join(t.TempDir(), "mirror")
	pkg := filepath.Join(mirror, "registry.terraform.io", "baton", "fake", "0.0.1", runtime.GOOS+"_"+runtime.GOARCH)
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(pkg, "terraform-provider-fake_v0.0.1"), []byte(fakeProvider), 0o755); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(t.TempDir(), "terraform.rc")
	conf := fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %q
    include = ["registry.terraform.io/baton/*"]
  }
  direct {
    exclude = ["registry.terraform.io/baton/*"]
  }
}
`, mirror)
	if err := os.WriteFile(rc, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_CLI_CONFIG_FILE", rc)
}

// initStage is a stage that only inits tf (start without the gate): the
// fake provider cannot give the schema that validate and plan ask for. All
// of a round's stages wait at ready, so that their inits start together.
func initStage(name string, tf *Terraform, ready *sync.WaitGroup) pipeline.Stage {
	return pipeline.Func(name, nil, nil, func(ctx context.Context, j *pipeline.Job) error {
		if ready != nil {
			ready.Done()
			waitGroup(ready, 10*time.Second)
		}
		r, err := tf.start(ctx, j, false, false)
		if err != nil {
			return err
		}
		r.close()
		return nil
	})
}

// waitGroup waits for wg, for at most limit.
func waitGroup(wg *sync.WaitGroup, limit time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(limit):
	}
}

// tfCacheStage is a Terraform stage over its own copy of the tfcache
// configuration, sharing the plugin cache in cache.
func tfCacheStage(t *testing.T, cache string) *Terraform {
	t.Helper()
	return &Terraform{Dir: copyDir(t, "testdata/tfcache"), DataDir: filepath.Join(t.TempDir(), "data"), PluginCacheDir: cache}
}

// Terraform's plugin cache is not safe for concurrent inits: without the
// lock, two inits installing the same provider into an empty cache fail
// with "failed to create directory …: file exists" or "… is still not
// detected in .terraform/providers; this is a bug in Terraform".
func TestTerraformPluginCacheConcurrentInits(t *testing.T) {
	requireTool(t, "terraform")
	fakeProviderMirror(t)
	const stages, rounds = 4, 3
	platform := runtime.GOOS + "_" + runtime.GOARCH
	for round := 1; round <= rounds; round++ {
		cache := filepath.Join(t.TempDir(), "plugin-cache")
		var ready sync.WaitGroup
		ready.Add(stages)
		tfs := make([]*Terraform, stages)
		ss := make([]pipeline.Stage, stages)
		for i := range tfs {
			tfs[i] = tfCacheStage(t, cache)
			ss[i] = initStage(fmt.Sprintf("init-%d", i+1), tfs[i], &ready)
		}
		p, err := pipeline.New(ss...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		_, err = p.Run(ctx, pipeline.Options{RunDir: t.TempDir(), Getenv: func(string) string { return "" }})
		cancel()
		if err != nil {
			t.Fatalf("round %d: %d inits sharing a plugin cache: %v", round, stages, err)
		}
		// The cache holds the provider once, for this platform.
		versions, _ := os.ReadDir(filepath.Join(cache, "registry.terraform.io", "baton", "fake"))
		if len(versions) != 1 || versions[0].Name() != "0.0.1" {
			t.Fatalf("round %d: cache holds versions %v of baton/fake, want 0.0.1 once", round, versions)
		}
		platforms, _ := os.ReadDir(filepath.Join(cache, "registry.terraform.io", "baton", "fake", "0.0.1"))
		if len(platforms) != 1 || platforms[0].Name() != platform {
			t.Fatalf("round %d: cache holds %v of baton/fake 0.0.1, want %s once", round, platforms, platform)
		}
		// Every configuration has the whole provider.
		for i, tf := range tfs {
			got, err := os.ReadFile(filepath.Join(tf.DataDir, "providers", "registry.terraform.io", "baton", "fake", "0.0.1", platform, "terraform-provider-fake_v0.0.1"))
			if err != nil || string(got) != fakeProvider {
				t.Errorf("round %d: init-%d's provider = %q, %v; want the mirror's", round, i+1, got, err)
			}
			if _, err := os.Stat(filepath.Join(tf.Dir, ".terraform.lock.hcl")); err != nil {
				t.Errorf("round %d: init-%d wrote no lock file: %v", round, i+1, err)
			}
		}
	}
}

// An init that cannot get the plugin cache says so and stops with its
// context.
func TestTerraformPluginCacheLockedInitStops(t *testing.T) {
	requireTool(t, "terraform")
	fakeProviderMirror(t)
	cache := t.TempDir()
	unlock, err := lockPluginCache(context.Background(), cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	tf := tfCacheStage(t, cache)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _, events, err := runStageOpts(t, ctx, pipeline.ModeRun, initStage("init", tf, nil), nil)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "plugin cache") {
		t.Errorf("err = %v, want the deadline while waiting for the plugin cache", err)
	}
	if !hasLine(events, "waiting for another terraform init") {
		t.Error("the wait for the plugin cache was not shown")
	}
	if hasLine(events, "$ terraform init") {
		t.Error("init ran without the plugin cache's lock")
	}
}

func TestPluginCacheLockIsExclusive(t *testing.T) {
	dir := t.TempDir()
	unlock, err := lockPluginCache(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}

	// While it is held, another acquire waits until its context ends …
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	waited := false
	if u, err := lockPluginCache(ctx, dir, func() { waited = true }); !errors.Is(err, context.DeadlineExceeded) {
		if err == nil {
			u()
		}
		t.Errorf("second acquire while held: err = %v, want context.DeadlineExceeded", err)
	}
	cancel()
	if !waited {
		t.Error("waiting was not called for a held lock")
	}

	// … or is cancelled, and returns soon after …
	ctx, cancel = context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		u, err := lockPluginCache(ctx, dir, nil)
		if err == nil {
			u()
		}
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond) // let it start waiting; not a measurement
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), dir) {
			t.Errorf("cancelled acquire: err = %v, want context.Canceled naming %s", err, dir)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a cancelled acquire did not return within 10s")
	}

	// … or gets the lock once it is released, and never before.
	var held atomic.Bool
	held.Store(true)
	got := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		u, err := lockPluginCache(ctx, dir, nil)
		if err == nil {
			if held.Load() {
				err = errors.New("acquired while the first holder still held it")
			}
			u()
		}
		got <- err
	}()
	time.Sleep(50 * time.Millisecond) // let it start waiting; not a measurement
	held.Store(false)
	unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Errorf("acquire after release: %v", err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("acquire after release did not return")
	}

	// The lock file is all it leaves in the cache.
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || entries[0].Name() != pluginCacheLockFile {
		t.Errorf("cache holds %v; want only %s", entries, pluginCacheLockFile)
	}
}

func TestPluginCacheLockMissingDir(t *testing.T) {
	_, err := lockPluginCache(context.Background(), filepath.Join(t.TempDir(), "nope"), nil)
	if err == nil || !strings.Contains(err.Error(), "plugin cache lock") {
		t.Errorf("err = %v, want a plugin cache lock error", err)
	}
}
