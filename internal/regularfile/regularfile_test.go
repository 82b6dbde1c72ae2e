package regularfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRead(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	if err := os.WriteFile(small, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, make([]byte, 2<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "zero")
	if err := os.Symlink("/dev/zero", link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		is         error
		want       string
	}{
		{"regular", small, nil, ""},
		{"over the limit", big, ErrTooLarge, "holds more than 1 KiB, the most baton reads"},
		{"device", "/dev/zero", ErrNotRegular, "/dev/zero is a character device"},
		{"link to a device", link, ErrNotRegular, "is a character device"},
		{"fifo", fifo, ErrNotRegular, "is a FIFO (named pipe)"},
		{"directory", dir, ErrNotRegular, "is a directory"},
		{"missing", filepath.Join(dir, "nope"), fs.ErrNotExist, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan struct{})
			var data []byte
			var err error
			go func() { data, err = Read(tc.path, 1<<10); close(done) }()
			select {
			case <-done:
			case <-time.After(time.Minute):
				t.Fatal("Read did not return within a minute")
			}
			if tc.is == nil {
				if err != nil || string(data) != "hello" {
					t.Fatalf("got %q, %v; want hello", data, err)
				}
				return
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %v saying %q", err, tc.is, tc.want)
			}
		})
	}
}

// The size is what is read, not what Stat says.
func TestReadDoesNotTrustStat(t *testing.T) {
	// /proc files report size 0 but hold data: the read, not Stat, decides.
	data, err := Read("/proc/self/status", 1<<20)
	if err != nil || len(data) == 0 {
		t.Fatalf("got %d bytes, %v; want /proc/self/status read whole", len(data), err)
	}
	if _, err := Read("/proc/self/status", 8); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("got %v, want ErrTooLarge for a file whose Stat says 0 bytes", err)
	}
}

func TestSize(t *testing.T) {
	for n, want := range map[int64]string{16 << 20: "16 MiB", 64 << 10: "64 KiB", 100: "100 bytes", 1<<20 + 1: "1048577 bytes"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}
