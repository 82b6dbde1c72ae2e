package stages

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
)

// reapOnCancel makes sure nothing a cancelled Terraform started outlives
// it. terraform-exec runs Terraform in a process group of its own, sends
// it SIGINT on cancel and kills it after the grace — but only it: a
// provisioner's command (local-exec's shell and what it runs) is left
// running. So when ctx ends, reapOnCancel notes the process group of the
// Terraform that this process started in dir; the returned func, called
// once the Terraform call has returned, stops watching and kills what is
// left of that group. It does nothing when ctx did not end.
func reapOnCancel(ctx context.Context, dir string) (reap func()) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return func() {}
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	var (
		mu     sync.Mutex
		groups []int
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-stop:
		case <-ctx.Done():
			found := childrenIn(abs)
			mu.Lock()
			groups = found
			mu.Unlock()
		}
	}()
	return func() {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, pgid := range groups {
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
		}
	}
}

// childrenIn lists this process's children that lead their own process
// group and whose working directory is dir: the Terraform processes
// terraform-exec started there.
func childrenIn(dir string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, pgid, ok := procStat(pid)
		if !ok || ppid != self || pgid != pid {
			continue
		}
		if cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd")); err == nil && cwd == dir {
			out = append(out, pid)
		}
	}
	return out
}

// procStat reads a process's parent and process group from
// /proc/<pid>/stat, whose second field (the command) may hold spaces and
// parentheses, so the fields are counted from its last ')'.
func procStat(pid int) (ppid, pgid int, ok bool) {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return 0, 0, false
	}
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := bytes.Fields(data[i+1:]) // state ppid pgrp …
	if len(f) < 3 {
		return 0, 0, false
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgid, err2 := strconv.Atoi(string(f[2]))
	return ppid, pgid, err1 == nil && err2 == nil
}
