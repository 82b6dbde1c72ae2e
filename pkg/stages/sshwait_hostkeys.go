package stages

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
	"github.com/baton-deploy/baton/pkg/sshwait"
)

// inventory is the hosts to wait for: the user's inventory file, read by
// Ansible, or the inventory handoff.
func (w *SSHWait) inventory(ctx context.Context, j *pipeline.Job) (*handoff.AnsibleInventory, error) {
	if w.InventoryPath == "" {
		return w.inventoryKey().Get(j.In)
	}
	dir := w.Dir
	if dir == "" {
		dir = "."
	}
	inv, err := ListInventory(ctx, w.Exec, dir, w.InventoryPath)
	if err != nil {
		return nil, fmt.Errorf("wait: %w", err)
	}
	return inv, nil
}

// keyPath is a private key's path as ssh would open it.
func (w *SSHWait) keyPath(p string) string {
	p = expandUser(p)
	if !filepath.IsAbs(p) && w.Dir != "" {
		p = filepath.Join(w.Dir, p)
	}
	return p
}

// Host key policies by name.
const (
	HostKeysKnown     = "known_hosts"
	HostKeysAcceptNew = "accept-new"
	HostKeysPinned    = "pinned"
)

func (w *SSHWait) policy(j *pipeline.Job, known string, hosts []sshwait.Host) (sshwait.HostKeyPolicy, error) {
	switch w.HostKeys {
	case "", HostKeysKnown:
		return sshwait.KnownHosts(known), nil
	case HostKeysAcceptNew:
		names := map[string]string{}
		for _, h := range hosts {
			names[h.Addr] = h.Name
		}
		replaced, err := w.replaced(j)
		if err != nil {
			return sshwait.HostKeyPolicy{}, err
		}
		all := make([]string, 0, len(hosts))
		for _, h := range hosts {
			all = append(all, h.Name)
		}
		return sshwait.AcceptNew(known, sshwait.AcceptNewOptions{Names: names, Forget: func(addr string, recorded []string) (bool, string) {
			ok, why := rebuilt(names[addr], recorded, replaced, w.Replaced != nil, all)
			if ok && why != "" {
				j.Printf("%s: %s", names[addr], why)
			}
			return ok, why
		}}), nil
	case HostKeysPinned:
		var keys []ssh.PublicKey
		for i, k := range w.PinnedKeys {
			key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k))
			if err != nil {
				return sshwait.HostKeyPolicy{}, fmt.Errorf("wait: pinned key %d: %v: give keys as in a .pub file, e.g. \"ssh-ed25519 AAAA…\"", i+1, err)
			}
			keys = append(keys, key)
		}
		if len(keys) == 0 {
			return sshwait.HostKeyPolicy{}, fmt.Errorf("wait: host keys %q needs PinnedKeys: the keys hosts may show (from ssh-keyscan or the image build)", HostKeysPinned)
		}
		return sshwait.PinnedHostKeys(keys...), nil
	}
	return sshwait.HostKeyPolicy{}, fmt.Errorf("wait: host keys %q is not a policy: use %q (only keys known_hosts lists), %q (record new hosts, refuse changed keys) or %q", w.HostKeys, HostKeysKnown, HostKeysAcceptNew, HostKeysPinned)
}

// replaced is the list of resources this run's Terraform apply made anew;
// nil when Replaced is not set or its value is an earlier run's (a
// Terraform stage skipped as unchanged replaced nothing now).
func (w *SSHWait) replaced(j *pipeline.Job) ([]string, error) {
	if w.Replaced == nil {
		return nil, nil
	}
	v, ok := j.In.Lookup(w.Replaced.Name())
	if !ok {
		return nil, nil
	}
	if v.RunID != j.RunID {
		j.Printf("%s is from run %s, not this one: no host counts as replaced", w.Replaced.Name(), v.RunID)
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(v.Raw, &list); err != nil {
		return nil, fmt.Errorf("wait: %s is not a JSON list of resource addresses: %w", w.Replaced.Name(), err)
	}
	return list, nil
}

// rebuilt decides whether a host whose key changed was rebuilt in this
// run, and says why not when it was not. When no replaced address names
// any host of the inventory (count-indexed resources: host[0], host[1]),
// which host each was cannot be told, so every host counts as rebuilt, and
// the note says so.
func rebuilt(name string, recorded, replaced []string, haveReplaced bool, hosts []string) (bool, string) {
	switch {
	case !haveReplaced:
		return false, "the wait has no Replaced handoff from Terraform to tell a rebuilt host"
	case len(replaced) == 0:
		return false, "Terraform replaced nothing in this run"
	}
	for _, addr := range replaced {
		if slices.Contains(addressNames(addr), name) {
			return true, ""
		}
	}
	// New in the inventory: the key at its address was another host's.
	others := len(recorded) > 0
	for _, r := range recorded {
		others = others && r != "" && r != name
	}
	if others {
		return true, ""
	}
	if !namesAny(replaced, hosts) {
		return true, fmt.Sprintf("key changed and accepted: Terraform replaced %s in this run, addresses that name no host, so any host may be one of them", strings.Join(replaced, ", "))
	}
	return false, fmt.Sprintf("Terraform replaced %s in this run, and none of them names %s", strings.Join(replaced, ", "), name)
}

// namesAny reports whether some replaced address names one of hosts.
func namesAny(replaced, hosts []string) bool {
	for _, addr := range replaced {
		for _, n := range addressNames(addr) {
			if slices.Contains(hosts, n) {
				return true
			}
		}
	}
	return false
}

var addressKeyRE = regexp.MustCompile(`\[("(?:[^"\\]|\\.)*"|[0-9]+)\]`)

// addressNames are the names in a resource address:
// module.apps.proxmox_vm.web["web-1"] has module, apps, proxmox_vm, web
// and web-1.
func addressNames(addr string) []string {
	var names []string
	for _, m := range addressKeyRE.FindAllStringSubmatch(addr, -1) {
		var s string
		if json.Unmarshal([]byte(m[1]), &s) == nil {
			names = append(names, s)
		}
	}
	for _, part := range strings.Split(addressKeyRE.ReplaceAllString(addr, ""), ".") {
		if part != "" {
			names = append(names, part)
		}
	}
	return names
}
