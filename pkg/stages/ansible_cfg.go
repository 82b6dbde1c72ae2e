package stages

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sort"
	"strings"
)

// iniKey is where an Ansible setting lives in ansible.cfg.
type iniKey struct{ section, key string }

func (k iniKey) String() string { return "[" + k.section + "] " + k.key }

// ansibleINI maps the ANSIBLE_* variables baton sets to the ansible.cfg
// keys that set the same thing, as `ansible-config list` gives them
// (TestAnsibleINIMatchesAnsibleConfig checks this table against it).
var ansibleINI = map[string][]iniKey{
	"ANSIBLE_INVENTORY_UNPARSED_FAILED": {{"inventory", "unparsed_is_failed"}},
	"ANSIBLE_RETRY_FILES_ENABLED":       {{"defaults", "retry_files_enabled"}},
	"ANSIBLE_NOCOLOR":                   {{"defaults", "nocolor"}},
	"ANSIBLE_FORCE_COLOR":               {{"defaults", "force_color"}},
	"ANSIBLE_FORKS":                     {{"defaults", "forks"}},
	"ANSIBLE_HOST_KEY_CHECKING":         {{"defaults", "host_key_checking"}, {"ssh_connection", "host_key_checking"}},
	"ANSIBLE_PIPELINING":                {{"defaults", "pipelining"}, {"connection", "pipelining"}, {"ssh_connection", "pipelining"}},
	"ANSIBLE_SSH_CONTROL_PATH_DIR":      {{"ssh_connection", "control_path_dir"}},
	"ANSIBLE_SSH_ARGS":                  {{"ssh_connection", "ssh_args"}},
	"ANSIBLE_SSH_COMMON_ARGS":           {{"ssh_connection", "ssh_common_args"}},
	"ANSIBLE_GATHERING":                 {{"defaults", "gathering"}},
	"ANSIBLE_CACHE_PLUGIN":              {{"defaults", "fact_caching"}},
	"ANSIBLE_CACHE_PLUGIN_CONNECTION":   {{"defaults", "fact_caching_connection"}},
	"ANSIBLE_CACHE_PLUGIN_TIMEOUT":      {{"defaults", "fact_caching_timeout"}},
}

// systemAnsibleConfig is where Ansible looks last; tests move it.
var systemAnsibleConfig = "/etc/ansible/ansible.cfg"

// ansibleConfig is the ansible.cfg Ansible reads in a directory, parsed;
// the zero value is "no file".
type ansibleConfig struct {
	path   string
	values map[string]map[string]string // section → key (lower case) → value
}

// get returns the value of the first of keys the file sets.
func (c ansibleConfig) get(keys []iniKey) (iniKey, string, bool) {
	for _, k := range keys {
		if v, ok := c.values[k.section][k.key]; ok {
			return k, v, true
		}
	}
	return iniKey{}, "", false
}

// findAnsibleConfig finds the ansible.cfg that Ansible run in dir would
// use, the way Ansible looks for it: ANSIBLE_CONFIG (a file, or a
// directory holding ansible.cfg), then ansible.cfg in dir unless dir is
// world-writable (Ansible ignores it then), ~/.ansible.cfg and
// /etc/ansible/ansible.cfg. The first readable one wins; "" when none.
func findAnsibleConfig(dir string, getenv func(string) (string, bool)) string {
	var candidates []string
	if p, ok := getenv("ANSIBLE_CONFIG"); ok {
		p = expandUser(os.ExpandEnv(p))
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if fi, err := os.Stat(p); err == nil && fi.IsDir() {
			p = filepath.Join(p, "ansible.cfg")
		}
		candidates = append(candidates, p)
	}
	if fi, err := os.Stat(dir); err == nil && fi.Mode().Perm()&0o002 == 0 {
		candidates = append(candidates, filepath.Join(dir, "ansible.cfg"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, ".ansible.cfg"))
	}
	candidates = append(candidates, systemAnsibleConfig)
	for _, p := range candidates {
		if f, err := os.Open(p); err == nil {
			f.Close()
			if abs, err := filepath.Abs(p); err == nil {
				p = abs
			}
			return p
		}
	}
	return ""
}

// readAnsibleConfig reads and parses the file findAnsibleConfig found.
func readAnsibleConfig(path string) (ansibleConfig, error) {
	if path == "" {
		return ansibleConfig{}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return ansibleConfig{}, fmt.Errorf("ansible: reading %s: %w", path, err)
	}
	values, err := parseINI(data)
	if err != nil {
		return ansibleConfig{}, fmt.Errorf("ansible: %s: %w: Ansible would refuse it too; fix the file", path, err)
	}
	return ansibleConfig{path: path, values: values}, nil
}

// parseINI reads an INI file as Python's configparser does for Ansible:
// [sections], "key = value" or "key: value" with keys in lower case,
// whole-line comments starting with # or ;, inline comments after " ;",
// and indented lines continuing the value above.
func parseINI(data []byte) (map[string]map[string]string, error) {
	out := map[string]map[string]string{}
	var section, last string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		raw := strings.TrimRight(sc.Text(), "\r")
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if i := strings.Index(line, " ;"); i >= 0 {
			line = strings.TrimSpace(line[:i])
		}
		if raw[0] == ' ' || raw[0] == '\t' {
			if last != "" && section != "" {
				out[section][last] = strings.TrimSpace(out[section][last] + "\n" + line)
				continue
			}
		}
		if strings.HasPrefix(line, "[") {
			if !strings.HasSuffix(line, "]") {
				return nil, fmt.Errorf("line %d: %q is not a [section] header", n, line)
			}
			section, last = strings.TrimSpace(line[1:len(line)-1]), ""
			if out[section] == nil {
				out[section] = map[string]string{}
			}
			continue
		}
		if section == "" {
			return nil, fmt.Errorf("line %d: %q comes before any [section] header", n, line)
		}
		i := strings.IndexAny(line, "=:")
		if i < 0 {
			return nil, fmt.Errorf("line %d: %q is neither key = value nor a [section]", n, line)
		}
		last = strings.ToLower(strings.TrimSpace(line[:i]))
		out[section][last] = strings.TrimSpace(line[i+1:])
	}
	return out, sc.Err()
}

// ansibleEnv decides the ANSIBLE_* variables of a run. want are baton's
// defaults: each is set only when neither the user's environment nor
// their ansible.cfg sets it. forced (Ansible.Settings) are set whatever
// either says. merge names defaults that are added after the user's own
// value instead of giving way to it (ssh_common_args: the user's options
// come first, so they win in ssh). The note says what came from where.
type ansibleEnv struct {
	cfg     ansibleConfig
	userEnv func(string) (string, bool)
	forced  map[string]string

	env                   []string
	set, cfgWon, envWon   []string
	forcedNames, mergedIn []string
}

// userSets reports whether the user's environment or ansible.cfg sets
// the setting of env var k, and the stage does not force it.
func (e *ansibleEnv) userSets(k string) bool {
	if _, ok := e.forced[k]; ok {
		return false
	}
	if _, ok := e.userEnv(k); ok {
		return true
	}
	_, _, ok := e.cfg.get(ansibleINI[k])
	return ok
}

// userValue is the user's value of k: their environment's, else their
// ansible.cfg's.
func (e *ansibleEnv) userValue(k string) string {
	if v, ok := e.userEnv(k); ok {
		return v
	}
	_, v, _ := e.cfg.get(ansibleINI[k])
	return v
}

func (e *ansibleEnv) resolve(want map[string]string, merge map[string]bool) {
	for _, k := range sortedKeys(want) {
		v := want[k]
		switch _, forced := e.forced[k]; {
		case forced:
			continue
		case merge[k] && e.userSets(k):
			e.env = append(e.env, k+"="+strings.TrimSpace(e.userValue(k)+" "+v))
			e.mergedIn = append(e.mergedIn, k)
			continue
		}
		if _, ok := e.userEnv(k); ok {
			e.envWon = append(e.envWon, k)
			continue
		}
		if key, _, ok := e.cfg.get(ansibleINI[k]); ok {
			e.cfgWon = append(e.cfgWon, key.key)
			continue
		}
		e.env = append(e.env, k+"="+v)
		e.set = append(e.set, k)
	}
	for _, k := range sortedKeys(e.forced) {
		e.env = append(e.env, k+"="+e.forced[k])
		e.forcedNames = append(e.forcedNames, k)
	}
	sort.Strings(e.env)
}

// note is the one line the stage logs about its settings.
func (e *ansibleEnv) note() string {
	var parts []string
	add := func(what string, names []string) {
		if len(names) > 0 {
			parts = append(parts, what+" "+strings.Join(names, ", "))
		}
	}
	add("baton set", e.set)
	add("added to the user's", e.mergedIn)
	add("forced by the stage's Settings:", e.forcedNames)
	if e.cfg.path != "" {
		add("left to "+e.cfg.path+":", e.cfgWon)
	}
	add("left to the environment:", e.envWon)
	cfg := "no ansible.cfg"
	if e.cfg.path != "" {
		cfg = "ansible.cfg " + e.cfg.path
	}
	return "ansible settings (" + cfg + "): " + strings.Join(parts, "; ")
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// expandUser expands a leading ~ or ~user as ssh and Ansible do: "~" and
// "~/x" are the current user's home, "~bob/x" bob's. Anything else, or a
// user that does not exist, is returned as it is.
func expandUser(p string) string {
	if !strings.HasPrefix(p, "~") {
		return p
	}
	name, rest, _ := strings.Cut(p[1:], "/")
	var home string
	if name == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return p
		}
		home = h
	} else {
		u, err := user.Lookup(name)
		if err != nil {
			return p
		}
		home = u.HomeDir
	}
	if rest == "" && !strings.HasSuffix(p, "/") {
		return home
	}
	return filepath.Join(home, rest)
}
