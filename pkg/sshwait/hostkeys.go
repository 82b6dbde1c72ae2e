package sshwait

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyPolicy says how Wait checks the keys hosts present. Make one
// with KnownHosts, PinnedHostKeys, TrustOnFirstUse or InsecureIgnoreHostKey;
// the zero value is no policy, which Wait rejects.
type HostKeyPolicy struct {
	name     string
	callback ssh.HostKeyCallback
	// algorithms, when set, gives the host key algorithms to ask a host
	// for: those of the keys the policy knows for it, so that a host
	// offering several keys shows the one the policy can check. Nil, or
	// an empty answer, leaves the client's default preference.
	algorithms func(host string, remote net.Addr) []string
}

// String names the policy.
func (p HostKeyPolicy) String() string { return p.name }

// errHostKey marks a host key failure, which is never retried.
var errHostKey = errors.New("host key")

// KnownHosts accepts only the keys a known_hosts file lists for each host.
// The file is read at every probe, so keys added while waiting count.
func KnownHosts(path string) HostKeyPolicy {
	return HostKeyPolicy{name: "known_hosts " + path, callback: func(host string, remote net.Addr, key ssh.PublicKey) error {
		cb, err := knownhosts.New(path)
		if err != nil {
			return fmt.Errorf("%w: cannot read %s: %v", errHostKey, path, err)
		}
		if err := cb(host, remote, key); err != nil {
			return fmt.Errorf("%w of %s is not accepted by %s: %v", errHostKey, host, path, err)
		}
		return nil
	}, algorithms: func(host string, remote net.Addr) []string {
		return knownAlgorithms(path, host, remote)
	}}
}

// PinnedHostKeys accepts only the given keys, for any host.
func PinnedHostKeys(keys ...ssh.PublicKey) HostKeyPolicy {
	return HostKeyPolicy{name: "pinned keys", callback: func(host string, _ net.Addr, key ssh.PublicKey) error {
		for _, k := range keys {
			if bytes.Equal(k.Marshal(), key.Marshal()) {
				return nil
			}
		}
		return fmt.Errorf("%w of %s (%s) is not one of the pinned keys", errHostKey, host, ssh.FingerprintSHA256(key))
	}, algorithms: func(string, net.Addr) []string { return algorithmsFor(keys) }}
}

// TrustOnFirstUse accepts the key a host presents the first time and
// records it in a known_hosts file; later, a different key for that host
// is rejected.
func TrustOnFirstUse(path string) HostKeyPolicy {
	var mu sync.Mutex
	return HostKeyPolicy{name: "trust on first use, " + path, callback: func(host string, remote net.Addr, key ssh.PublicKey) error {
		mu.Lock()
		defer mu.Unlock()
		if cb, err := knownhosts.New(path); err == nil {
			err := cb(host, remote, key)
			var ke *knownhosts.KeyError
			switch {
			case err == nil:
				return nil
			case errors.As(err, &ke) && len(ke.Want) > 0:
				return fmt.Errorf("%w of %s changed since it was first trusted (%s): %v", errHostKey, host, path, err)
			case !errors.As(err, &ke):
				return fmt.Errorf("%w: %s: %v", errHostKey, path, err)
			}
		} else if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: cannot read %s: %v", errHostKey, path, err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.WriteString(knownhosts.Line([]string{knownhosts.Normalize(host)}, key) + "\n")
		return err
	}, algorithms: func(host string, remote net.Addr) []string {
		mu.Lock()
		defer mu.Unlock()
		return knownAlgorithms(path, host, remote) // none for a new host: any key will do
	}}
}

// InsecureIgnoreHostKey accepts any host key. It is only for throwaway
// test hosts, and has this name so that using it is a visible choice.
func InsecureIgnoreHostKey() HostKeyPolicy {
	return HostKeyPolicy{name: "insecure: any host key", callback: ssh.InsecureIgnoreHostKey()}
}

// noKey is a key no known_hosts file lists: checking it against a file
// gives a KeyError listing every key the file holds for a host.
var noKey, _ = ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))

// knownAlgorithms gives the host key algorithms of the keys a known_hosts
// file lists for host, or nil when it lists none or cannot be read (the
// callback then reports why).
func knownAlgorithms(path, host string, remote net.Addr) []string {
	cb, err := knownhosts.New(path)
	if err != nil {
		return nil
	}
	var ke *knownhosts.KeyError
	if !errors.As(cb(host, remote, noKey), &ke) {
		return nil
	}
	keys := make([]ssh.PublicKey, len(ke.Want))
	for i, k := range ke.Want {
		keys[i] = k.Key
	}
	return algorithmsFor(keys)
}

// algorithmsFor gives the host key algorithms that show one of keys. An
// RSA key can be shown with any of three signature algorithms.
func algorithmsFor(keys []ssh.PublicKey) []string {
	var algos []string
	for _, k := range keys {
		switch t := k.Type(); t {
		case ssh.KeyAlgoRSA:
			algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			algos = append(algos, t)
		}
	}
	slices.Sort(algos)
	return slices.Compact(algos)
}
