package sshwait

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/baton-deploy/baton/internal/atomicfile"
)

// AcceptNewOptions tells AcceptNew what it cannot learn from a
// handshake. The zero value names no host and forgets no key.
type AcceptNewOptions struct {
	// Names gives each host's name (its inventory name) by the address
	// it is dialled at, host:port. The name is recorded as the comment of
	// the host's line, as "baton:<name>", and given to Forget later.
	Names map[string]string
	// Forget decides about a host that shows a key other than the one
	// recorded for it: true forgets the recorded lines and records the
	// new key (the host was rebuilt); false refuses the key, with why
	// (when not "") added to the error. recorded lists the names on the
	// host's recorded lines, "" for lines baton did not write.
	Forget func(addr string, recorded []string) (forget bool, why string)
}

// knownHostsLocks serialises the writers of each known_hosts file in this
// process: concurrent probes of new hosts append one whole line each.
var knownHostsLocks sync.Map // absolute path → *sync.Mutex

func knownHostsLock(path string) *sync.Mutex {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	mu, _ := knownHostsLocks.LoadOrStore(path, &sync.Mutex{})
	return mu.(*sync.Mutex)
}

// AcceptNew is ssh's StrictHostKeyChecking=accept-new over a known_hosts
// file: a host seen for the first time has its key appended to the file
// (created 0600 when missing); a host whose key differs from the
// recorded one is refused, with an error naming the host, the file and
// the `ssh-keygen -R` that forgets the old key — unless opts.Forget says
// the host was rebuilt, in which case its old lines are removed and the
// new key recorded. Writers in one process take turns; the file is
// replaced atomically when lines are removed.
func AcceptNew(path string, opts AcceptNewOptions) HostKeyPolicy {
	mu := knownHostsLock(path)
	return HostKeyPolicy{name: "accept-new, " + path, callback: func(host string, remote net.Addr, key ssh.PublicKey) error {
		mu.Lock()
		defer mu.Unlock()
		err := checkKnown(path, host, remote, key)
		var ke *knownhosts.KeyError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &ke) && len(ke.Want) == 0:
			return appendKnown(path, host, opts.Names[host], key)
		case !errors.As(err, &ke):
			return fmt.Errorf("%w of %s is not accepted by %s: %v", errHostKey, host, path, err)
		}
		name := opts.Names[host]
		if name == "" {
			name = host
		}
		var why string
		if opts.Forget != nil {
			recorded, err := recordedNames(path, host, remote)
			if err != nil {
				return fmt.Errorf("%w: %s: %v", errHostKey, path, err)
			}
			var forget bool
			if forget, why = opts.Forget(host, recorded); forget {
				if err := forgetKnown(path, host, remote); err != nil {
					return fmt.Errorf("%w: forgetting the old key of %s in %s: %v", errHostKey, name, path, err)
				}
				if err := checkKnown(path, host, remote, key); err != nil && !(errors.As(err, &ke) && len(ke.Want) == 0) {
					return fmt.Errorf("%w of %s changed, and %s still lists another for it after its lines were removed (a wildcard or @cert-authority line?): %v", errHostKey, name, path, err)
				}
				return appendKnown(path, host, opts.Names[host], key)
			}
		}
		w := ke.Want[0]
		if why != "" {
			why = " (" + why + ")"
		}
		return fmt.Errorf("%w of %s (%s) changed: %s line %d has %s %s, the host now shows %s %s. If the host was rebuilt, forget the old key with `ssh-keygen -f %s -R %s` and run again%s",
			errHostKey, name, host, w.Filename, w.Line, w.Key.Type(), ssh.FingerprintSHA256(w.Key), key.Type(), ssh.FingerprintSHA256(key), shellWord(path), shellWord(knownhosts.Normalize(host)), why)
	}, algorithms: func(host string, remote net.Addr) []string {
		// The recorded key's type first, so that a host offering several
		// keys shows the one recorded; then every other, so that a
		// rebuilt host with other key types is not cut off by the
		// handshake before its key can be checked (and forgotten, or
		// refused with a useful message).
		mu.Lock()
		known := knownAlgorithms(path, host, remote)
		mu.Unlock()
		if len(known) == 0 {
			return nil
		}
		for _, a := range ssh.SupportedAlgorithms().HostKeys {
			if !slices.Contains(known, a) {
				known = append(known, a)
			}
		}
		return known
	}}
}

// checkKnown checks key against the file; a missing file knows no host.
func checkKnown(path, host string, remote net.Addr, key ssh.PublicKey) error {
	cb, err := knownhosts.New(path)
	if errors.Is(err, os.ErrNotExist) {
		return &knownhosts.KeyError{}
	}
	if err != nil {
		return err
	}
	return cb(host, remote, key)
}

func appendKnown(path, host, name string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(host)}, key)
	if name != "" && !strings.ContainsAny(name, " \t\r\n") {
		line += " baton:" + name
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	// A file whose last line has no newline would join the two lines.
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
			line = "\n" + line
		}
	}
	_, err = f.WriteString(line + "\n") // one write: a whole line
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// hostLine is one line of a known_hosts file that is about a host.
type hostLine struct {
	matches bool   // a plain or hashed pattern names the host exactly
	name    string // the baton:<name> comment, if any
}

// scanKnown calls fn with each line and whether it names one of hosts
// exactly (as `ssh-keygen -R` matches: plain or hashed names, not
// wildcards, and never @cert-authority or @revoked lines).
func scanKnown(data []byte, hosts []string, fn func(line string, l hostLine)) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		var l hostLine
		if len(fields) >= 3 && !strings.HasPrefix(fields[0], "#") && !strings.HasPrefix(fields[0], "@") {
			for _, pat := range strings.Split(fields[0], ",") {
				for _, h := range hosts {
					l.matches = l.matches || patternIs(pat, h)
				}
			}
			for _, c := range fields[3:] {
				if n, ok := strings.CutPrefix(c, "baton:"); ok {
					l.name = n
				}
			}
		}
		fn(line, l)
	}
}

// patternIs reports whether a known_hosts host pattern is exactly host,
// in plain or hashed (|1|salt|hash) form.
func patternIs(pat, host string) bool {
	if rest, ok := strings.CutPrefix(pat, "|1|"); ok {
		salt64, hash64, ok := strings.Cut(rest, "|")
		salt, err1 := base64.StdEncoding.DecodeString(salt64)
		hash, err2 := base64.StdEncoding.DecodeString(hash64)
		if !ok || err1 != nil || err2 != nil {
			return false
		}
		mac := hmac.New(sha1.New, salt)
		mac.Write([]byte(host))
		return hmac.Equal(mac.Sum(nil), hash)
	}
	return strings.EqualFold(pat, host)
}

// hostNames are the names a host's lines may be under: the address
// dialled and the remote address, normalised as known_hosts writes them.
func hostNames(host string, remote net.Addr) []string {
	names := []string{knownhosts.Normalize(host)}
	if remote != nil {
		if r := knownhosts.Normalize(remote.String()); r != names[0] {
			names = append(names, r)
		}
	}
	return names
}

func recordedNames(path, host string, remote net.Addr) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var names []string
	scanKnown(data, hostNames(host, remote), func(_ string, l hostLine) {
		if l.matches {
			names = append(names, l.name)
		}
	})
	return names, nil
}

// forgetKnown removes the host's lines, as `ssh-keygen -R` does, and
// replaces the file atomically.
func forgetKnown(path, host string, remote net.Addr) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var out strings.Builder
	scanKnown(data, hostNames(host, remote), func(line string, l hostLine) {
		if !l.matches {
			out.WriteString(line + "\n")
		}
	})
	mode := os.FileMode(0o600)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	return atomicfile.Write(path, []byte(out.String()), mode)
}

// shellWord quotes s for a command line people paste.
func shellWord(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n\"'\\$`*?[]{}()<>|&;#~!") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
