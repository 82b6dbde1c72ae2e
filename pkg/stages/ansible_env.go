package stages

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/baton-deploy/baton/internal/atomicfile"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// ansibleInventory is the -i of a run: the user's inventory (InventoryPath)
// or a file made from the inventory handoff.
type ansibleInventory struct {
	path  string // as ansible-playbook is given it, in Dir
	hosts int    // 0 when only Ansible knows (InventoryPath)
	key   string // names the inventory's value, for the fact cache
}

// inventoryFile is InventoryPath as the stage reads it: relative to Dir
// unless absolute.
func (a *Ansible) inventoryFile() string {
	if filepath.IsAbs(a.InventoryPath) {
		return a.InventoryPath
	}
	return filepath.Join(a.Dir, a.InventoryPath)
}

func (a *Ansible) inventorySource(j *pipeline.Job) (ansibleInventory, error) {
	if a.InventoryPath != "" {
		f := newFingerprint("ansible-inventory")
		if err := f.addTree(a.inventoryFile(), withSkip()...); err != nil {
			return ansibleInventory{}, fmt.Errorf("ansible: inventory %s: %w: InventoryPath is relative to %s, or absolute", a.InventoryPath, err, a.Dir)
		}
		return ansibleInventory{path: a.InventoryPath, key: f.sum()}, nil
	}
	inv, err := a.inventoryKey().Get(j.In)
	if err != nil {
		return ansibleInventory{}, err
	}
	data, err := inv.MarshalJSON()
	if err != nil {
		return ansibleInventory{}, err
	}
	// Host vars may hold secrets: the file is the job's and 0600.
	path := filepath.Join(j.Dir, "inventory.json")
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return ansibleInventory{}, fmt.Errorf("ansible: writing the inventory: %w", err)
	}
	key := ""
	if v, ok := j.In.Lookup(a.inventoryKey().Name()); ok {
		key = v.RunID + "\x00" + v.SHA256()
	}
	return ansibleInventory{path: path, hosts: len(inv.Hosts()), key: key}, nil
}

// userEnv looks a variable up where the user sets them for the tools:
// the stage's Exec.Env, then baton's own environment.
func (a *Ansible) userEnv(k string) (string, bool) {
	for i := len(a.Exec.Env) - 1; i >= 0; i-- {
		if key, v, ok := strings.Cut(a.Exec.Env[i], "="); ok && key == k {
			return v, true
		}
	}
	return os.LookupEnv(k)
}

// environment gives the ANSIBLE_* variables of a run: baton's defaults
// where neither the user's environment nor their ansible.cfg sets them,
// and Settings whatever they set. It logs which is which.
func (a *Ansible) environment(j *pipeline.Job, r *ansibleRun, inv ansibleInventory) ([]string, error) {
	cfg, err := readAnsibleConfig(findAnsibleConfig(a.Dir, a.userEnv))
	if err != nil {
		return nil, err
	}
	e := &ansibleEnv{cfg: cfg, userEnv: a.userEnv, forced: a.Settings}
	forks := a.Forks
	if forks <= 0 {
		// Ansible starts no more workers than hosts: with an inventory
		// only it has read, the cap costs nothing.
		forks = maxForks
		if inv.hosts > 0 {
			forks = min(inv.hosts, maxForks)
		}
	}
	want := map[string]string{
		// A broken inventory must fail, not run against localhost.
		"ANSIBLE_INVENTORY_UNPARSED_FAILED": "True",
		"ANSIBLE_RETRY_FILES_ENABLED":       "False",
		"ANSIBLE_NOCOLOR":                   "True",
		"ANSIBLE_FORCE_COLOR":               "False",
		"ANSIBLE_FORKS":                     strconv.Itoa(forks),
		"ANSIBLE_HOST_KEY_CHECKING":         "True",
	}
	if !a.Plain {
		// Unix socket paths are short (108 bytes): the control directory
		// lives in the temporary directory, not in the run directory.
		r.control, err = os.MkdirTemp("", "baton-cp-")
		if err != nil {
			return nil, err
		}
		want["ANSIBLE_PIPELINING"] = "True"
		want["ANSIBLE_SSH_CONTROL_PATH_DIR"] = r.control
		want["ANSIBLE_SSH_ARGS"] = "-o ControlMaster=auto -o ControlPersist=60s"
	}
	if a.FactCache != "" && inv.key != "" {
		dir, err := a.factsDir(inv.key)
		if err != nil {
			return nil, err
		}
		ttl := a.FactCacheTTL
		if ttl <= 0 {
			ttl = 24 * time.Hour
		}
		want["ANSIBLE_GATHERING"] = "smart"
		want["ANSIBLE_CACHE_PLUGIN"] = "jsonfile"
		want["ANSIBLE_CACHE_PLUGIN_CONNECTION"] = dir
		want["ANSIBLE_CACHE_PLUGIN_TIMEOUT"] = strconv.Itoa(int(ttl.Seconds()))
	}
	merge := map[string]bool{}
	if a.KnownHosts != "" {
		args, err := knownHostsArgs(a.KnownHosts, !e.userChecksHostKeys())
		if err != nil {
			return nil, err
		}
		// In ssh_common_args, after the user's ssh_args: the file baton's
		// wait recorded keys in is what ssh reads, and how strictly it
		// checks stays the user's choice when their ansible.cfg makes it.
		want["ANSIBLE_SSH_COMMON_ARGS"] = args
		merge["ANSIBLE_SSH_COMMON_ARGS"] = true
	}
	e.resolve(want, merge)
	j.Printf("%s", e.note())
	return e.env, nil
}

// userChecksHostKeys reports whether the user's ansible.cfg or
// environment says how host keys are checked: host_key_checking, or a
// StrictHostKeyChecking in ssh_args.
func (e *ansibleEnv) userChecksHostKeys() bool {
	if e.userSets("ANSIBLE_HOST_KEY_CHECKING") {
		return true
	}
	return e.userSets("ANSIBLE_SSH_ARGS") && strings.Contains(strings.ToLower(e.userValue("ANSIBLE_SSH_ARGS")), "stricthostkeychecking")
}

// knownHostsArgs are the ssh options that check host keys against path.
// Ansible splits its ssh arguments like a shell and ssh splits
// UserKnownHostsFile at whitespace, so a path with spaces is quoted for
// both.
func knownHostsArgs(path string, strict bool) (string, error) {
	opt := "UserKnownHostsFile=" + path
	if strings.ContainsAny(path, " \t'\"\\") {
		if strings.ContainsAny(path, "\"\\") {
			return "", fmt.Errorf("ansible: known_hosts path %q: ssh cannot take a path with \" or \\ in it; move the file", path)
		}
		opt = "'" + strings.ReplaceAll(`UserKnownHostsFile="`+path+`"`, "'", `'"'"'`) + "'"
	}
	args := "-o " + opt
	if strict {
		args += " -o StrictHostKeyChecking=yes"
	}
	return args, nil
}

// factsDir is the fact cache of one inventory value, named after it;
// older ones are removed.
func (a *Ansible) factsDir(key string) (string, error) {
	sum := sha256.Sum256([]byte(key))
	name := hex.EncodeToString(sum[:8])
	if err := os.MkdirAll(filepath.Join(a.FactCache, name), 0o700); err != nil {
		return "", fmt.Errorf("ansible: fact cache: %w", err)
	}
	old, _ := os.ReadDir(a.FactCache)
	for _, e := range old {
		if e.Name() != name {
			_ = os.RemoveAll(filepath.Join(a.FactCache, e.Name()))
		}
	}
	return filepath.Join(a.FactCache, name), nil
}
