// Package magerun is what mage.go runs: Mage, made safe to start more than
// once at a time in one checkout.
//
// Mage compiles the magefile by writing mage_output_file.go into the
// checkout, building, and removing the file; two targets started at the
// same moment each removed the other's file ("open ./mage_output_file.go:
// no such file or directory / error compiling magefiles"). Main takes an
// flock on a file under the user's cache directory, one per checkout,
// around the compile only, builds the magefile into a binary beside it
// (renamed into place, so that a running target keeps its own), releases
// the lock, and runs the binary: a long target (serve, deploy) never holds
// up another's compile.
package magerun

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/magefile/mage/mage"
)

// Main runs Mage with the process's arguments and returns the exit code.
func Main() int { return Run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr) }

// Run runs Mage with args in the current directory, the checkout.
func Run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	switch classify(args) {
	case listOrHelp:
		// Mage lists and explains targets from the source, without
		// writing anything: nothing to lock.
		return mage.ParseAndRun(stdout, stderr, stdin, args)
	case mageFlags:
		// Flags only Mage itself understands (-d, -compile, -clean, …):
		// let Mage do it all, under the lock.
		unlock, _, err := lockCheckout(stderr)
		if err != nil {
			fmt.Fprintln(stderr, "mage:", err)
			return 1
		}
		defer unlock()
		return mage.ParseAndRun(stdout, stderr, stdin, args)
	}
	exe, code := compile(stdin, stderr)
	if code != 0 {
		return code
	}
	return runCompiled(exe, args, stdin, stdout, stderr)
}

type kind int

const (
	plain      kind = iota // targets, with -v or -t at most
	listOrHelp             // -l or -h
	mageFlags              // anything only Mage's own command line takes
)

// classify looks at the flags before the first target.
func classify(args []string) kind {
	k := plain
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" || a == "-" || !strings.HasPrefix(a, "-") {
			break
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		switch name {
		case "v":
		case "t":
			if !hasValue {
				i++
			}
		case "l", "h":
			if k == plain {
				k = listOrHelp
			}
		default:
			return mageFlags
		}
	}
	return k
}

// cacheDir is this checkout's directory in the user's cache.
func cacheDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("%w: set XDG_CACHE_HOME or HOME", err)
	}
	sum := sha256.Sum256([]byte(wd))
	dir := filepath.Join(base, "baton", "mage", hex.EncodeToString(sum[:8]))
	return dir, os.MkdirAll(dir, 0o700)
}

// lockCheckout takes the checkout's compile lock, waiting for another
// process's compile to end.
func lockCheckout(stderr io.Writer) (unlock func(), dir string, err error) {
	dir, err = cacheDir()
	if err != nil {
		return nil, "", fmt.Errorf("cache directory: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "compile.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, "", err
	}
	// One err for both calls: a failed non-blocking lock other than "held"
	// and a failed blocking one both end here.
	if err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); errors.Is(err, syscall.EWOULDBLOCK) {
		fmt.Fprintln(stderr, "mage: waiting for another target's compile of this checkout to end")
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
	}
	if err != nil {
		f.Close()
		return nil, "", fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, dir, nil
}

// compile builds the magefile into the checkout's binary, under the lock.
func compile(stdin io.Reader, stderr io.Writer) (string, int) {
	unlock, dir, err := lockCheckout(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "mage:", err)
		return "", 1
	}
	defer unlock()
	exe := filepath.Join(dir, "mage")
	tmp := exe + ".tmp" + strconv.Itoa(os.Getpid())
	defer os.Remove(tmp)
	// Mage rebuilds every time when Go has a build cache (as it always
	// has): a build of unchanged code is the cache's to make fast.
	if code := mage.ParseAndRun(io.Discard, stderr, stdin, []string{"-compile", tmp}); code != 0 {
		return "", code
	}
	if err := os.Rename(tmp, exe); err != nil {
		fmt.Fprintln(stderr, "mage:", err)
		return "", 1
	}
	return exe, 0
}

// runCompiled runs the compiled magefile as Mage would: in the checkout,
// with the environment and standard streams, and Ctrl-C left to it.
func runCompiled(exe string, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := exec.Command(exe, args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	// The terminal's SIGINT reaches the target too, which stops itself;
	// this process waits for it.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT)
	defer signal.Stop(sig)
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit):
		if code := exit.ExitCode(); code >= 0 {
			return code
		}
		return 1
	default:
		fmt.Fprintln(stderr, "mage: failed to run the compiled magefile:", err)
		return 1
	}
}
