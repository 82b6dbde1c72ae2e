package webhook

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the receiver's configuration file (YAML):
//
//	listen: 127.0.0.1:8099        # default; 0.0.0.0:8099 to take requests from other hosts
//	tls_cert: /etc/baton/cert.pem # with tls_key: serve HTTPS
//	tls_key: /etc/baton/key.pem
//	allow: [192.168.1.0/24]       # only these networks (default: any)
//	trusted_proxies: [127.0.0.1/32]
//	max_body: 1048576             # bytes
//	timeout: 30m                  # per deploy
//	grace: 2m                     # at SIGTERM, for the running deploy
//	retention: 168h               # how long delivery IDs are remembered
//	hooks:
//	  deploy:                     # POST /hooks/deploy
//	    provider: github          # github, gitea (Forgejo), gitlab, generic
//	    secret_env: BATON_WEBHOOK_SECRET   # or secret_file: /etc/baton/secret
//	    env: production           # default: the project's environment
//	    events: [push]
//	    branches: [main, release/*]
//	    window: 5m                # generic: timestamp freshness
//	    update: [git, pull, --ff-only]     # run before each deploy
//
// Secrets are never in the file: secret_env names an environment variable
// and secret_file a file (mode 0600) that holds the secret.
type Config struct {
	Listen         string                 `yaml:"listen"`
	TLSCert        string                 `yaml:"tls_cert"`
	TLSKey         string                 `yaml:"tls_key"`
	Allow          []string               `yaml:"allow"`
	TrustedProxies []string               `yaml:"trusted_proxies"`
	MaxBody        int64                  `yaml:"max_body"`
	Timeout        duration               `yaml:"timeout"`
	Grace          duration               `yaml:"grace"`
	Retention      duration               `yaml:"retention"`
	Hooks          map[string]*HookConfig `yaml:"hooks"`
}

// HookConfig is one hook in the configuration file.
type HookConfig struct {
	Provider   string   `yaml:"provider"`
	Secret     string   `yaml:"secret"` // refused: secrets are not kept in files that get committed
	SecretEnv  string   `yaml:"secret_env"`
	SecretFile string   `yaml:"secret_file"`
	Env        string   `yaml:"env"`
	Events     []string `yaml:"events"`
	Branches   []string `yaml:"branches"`
	Window     duration `yaml:"window"`
	// Update is a command run in the project before each deploy the hook
	// starts (e.g. git pull --ff-only), so that it deploys what was pushed.
	Update []string `yaml:"update"`
}

// duration is a time.Duration written as "30s", "5m".
type duration time.Duration

func (d *duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil || v < 0 {
		return fmt.Errorf("line %d: %q is not a duration like 30s, 5m or 2h", n.Line, n.Value)
	}
	*d = duration(v)
	return nil
}

// LoadConfig reads the configuration file at path. Unknown keys are
// errors, so a misspelt setting is not silently ignored.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var c Config
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8099"
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return nil, fmt.Errorf("%s: tls_cert and tls_key go together: give both to serve HTTPS, or neither", path)
	}
	if len(c.Hooks) == 0 {
		return nil, fmt.Errorf("%s: no hooks: add one under hooks: (see the example in the package documentation)", path)
	}
	return &c, nil
}

// Options turns the configuration into a Server's options, reading each
// hook's secret with getenv or from its file; defaultEnv is the
// environment of hooks that name none.
func (c *Config) Options(getenv func(string) string, defaultEnv string) (Options, error) {
	o := Options{MaxBody: c.MaxBody, Timeout: time.Duration(c.Timeout), Retention: time.Duration(c.Retention)}
	var err error
	if o.Allow, err = prefixes("allow", c.Allow); err != nil {
		return o, err
	}
	if o.TrustedProxies, err = prefixes("trusted_proxies", c.TrustedProxies); err != nil {
		return o, err
	}
	for name, hc := range c.Hooks {
		if hc == nil {
			return o, fmt.Errorf("hook %s: empty; it needs at least provider and secret_env or secret_file", name)
		}
		p, err := ParseProvider(hc.Provider)
		if err != nil {
			return o, fmt.Errorf("hook %s: %w", name, err)
		}
		secret, err := hc.secret(name, getenv)
		if err != nil {
			return o, err
		}
		o.Hooks = append(o.Hooks, Hook{Name: name, Provider: p, Secret: secret, Env: first(hc.Env, defaultEnv),
			Events: lower(hc.Events), Branches: hc.Branches, Window: time.Duration(hc.Window)})
	}
	return o, nil
}

func (hc *HookConfig) secret(name string, getenv func(string) string) ([]byte, error) {
	switch {
	case hc.Secret != "":
		return nil, fmt.Errorf("hook %s: the secret must not be written in the configuration file: put it in an environment variable and name it with secret_env, or in a file (mode 0600) named by secret_file", name)
	case hc.SecretEnv != "" && hc.SecretFile != "":
		return nil, fmt.Errorf("hook %s: give secret_env or secret_file, not both", name)
	case hc.SecretEnv != "":
		v := getenv(hc.SecretEnv)
		if v == "" {
			return nil, fmt.Errorf("hook %s: environment variable %s (its secret_env) is not set", name, hc.SecretEnv)
		}
		return []byte(v), nil
	case hc.SecretFile != "":
		fi, err := os.Stat(hc.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("hook %s: secret_file: %w", name, err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("hook %s: secret_file %s is readable by others (mode %04o): chmod 600 it", name, hc.SecretFile, fi.Mode().Perm())
		}
		data, err := os.ReadFile(hc.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("hook %s: secret_file: %w", name, err)
		}
		v := strings.TrimRight(string(data), "\r\n")
		if v == "" {
			return nil, fmt.Errorf("hook %s: secret_file %s is empty", name, hc.SecretFile)
		}
		return []byte(v), nil
	}
	return nil, fmt.Errorf("hook %s: no secret: set secret_env (an environment variable's name) or secret_file", name)
}

func prefixes(key string, list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("%s: %q is neither a network (192.168.1.0/24) nor an address", key, s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func lower(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.ToLower(v)
	}
	return out
}
