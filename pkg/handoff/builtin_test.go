package handoff

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The text form of a file-valued handoff (an inventory, a JSON value) is
// read only from a regular file, and only up to MaxValueFile: /dev/zero or
// a FIFO would otherwise be read, or waited for, forever.
func TestValueFilesAreRegularAndBounded(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "inventory.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	huge := filepath.Join(dir, "huge.json")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: it weighs nothing on disk.
	if err := f.Truncate(MaxValueFile + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()
	report := NewJSON[map[string]int]("report", nil)
	for _, tc := range []struct {
		name, path, want string
		parse            func(string) error
	}{
		{"inventory from /dev/zero", "/dev/zero", "/dev/zero is a character device: not a regular file: want the path of a regular file that holds an Ansible inventory", parseInventory},
		{"inventory from a FIFO", fifo, "is a FIFO (named pipe)", parseInventory},
		{"inventory from a directory", dir, "is a directory", parseInventory},
		{"inventory over the limit", huge, "holds more than 16 MiB", parseInventory},
		{"JSON from /dev/zero", "/dev/zero", "is a character device", func(p string) error { _, err := report.ParseText(p); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { done <- tc.parse(tc.path) }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("err = %v, want it to say %q", err, tc.want)
				}
			case <-time.After(time.Minute):
				t.Fatal("ParseText did not return within a minute")
			}
		})
	}
}

func parseInventory(path string) error {
	_, err := Inventory.ParseText(path)
	return err
}
