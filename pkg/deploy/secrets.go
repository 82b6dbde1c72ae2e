package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/baton-deploy/baton/internal/proc"
	"github.com/baton-deploy/baton/internal/shellwords"
	"github.com/baton-deploy/baton/pkg/stages"
)

// Secrets reach the tools in one of two ways, and are masked as "***" in
// the console, the run's files, its summary and its record:
//
//	BATON_WRAPPER  a command every tool runs under, e.g. `doppler run --`
//	               or `op run --env-file=prod.env --` (shell words, or a
//	               JSON array). Every variable it adds to the environment
//	               is treated as a secret.
//	BATON_SECRETS  names of environment variables whose values are secret,
//	               comma-separated: APP_TOKEN,TF_VAR_db_password. Each must
//	               be set, in baton's environment or by the wrapper.
//
// baton's own secret settings (BATON_LEDGER, the BATON_NOTIFY_* URLs, also
// in their _FILE form) are always masked, as are TF_VAR_* values (by the
// Terraform stage) and Terraform's sensitive outputs.
const (
	envWrapper = "BATON_WRAPPER"
	envSecrets = "BATON_SECRETS"
)

// wrapperTimeout bounds the one run of the wrapper that reads what it
// gives: a secrets manager may have to fetch them over the network.
const wrapperTimeout = time.Minute

// notSecret are variables a wrapper may set that say nothing secret, and
// whose short, common values would otherwise be masked all over the logs.
var notSecret = map[string]bool{
	"PATH": true, "PWD": true, "OLDPWD": true, "SHLVL": true, "_": true, "HOME": true,
	"USER": true, "LOGNAME": true, "SHELL": true, "TERM": true, "HOSTNAME": true,
	"LANG": true, "TZ": true, "TMPDIR": true,
	"DOPPLER_PROJECT": true, "DOPPLER_CONFIG": true, "DOPPLER_ENVIRONMENT": true,
}

// ownSecrets are baton's settings that hold credentials.
var ownSecrets = []string{
	"BATON_LEDGER", "BATON_NOTIFY_DISCORD_URL", "BATON_NOTIFY_SLACK_URL", "BATON_NOTIFY_WEBHOOK_URL",
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// wrapperSetting reads BATON_WRAPPER: the command to put in front of
// every tool, or nil.
func (p *Project) wrapperSetting() ([]string, error) {
	v := strings.TrimSpace(p.opts.Getenv(envWrapper))
	if v == "" {
		return nil, nil
	}
	argv, err := shellwords.Parse(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; give a command such as `doppler run --`", envWrapper, err)
	}
	if len(argv) == 0 || argv[0] == "" {
		return nil, fmt.Errorf("%s: no program to run; give a command such as `doppler run --`, or unset it", envWrapper)
	}
	if _, err := exec.LookPath(argv[0]); err != nil {
		return nil, fmt.Errorf("%s: %w: install it, give its full path, or unset %s", envWrapper, err, envWrapper)
	}
	return argv, nil
}

// Exec is how the project's stages start their tools: under
// BATON_WRAPPER, when it is set.
func (p *Project) Exec() (stages.Exec, error) {
	w, err := p.wrapperSetting()
	return stages.Exec{Wrapper: w}, err
}

// Secrets returns the values to mask that the settings give, before a
// pipeline file is read: what BATON_WRAPPER adds, the BATON_SECRETS
// variables and baton's own credentials. A run masks these and what the
// file's wrappers give; a front end that shows runs (a web view) masks
// these.
func (p *Project) Secrets(ctx context.Context) ([]string, error) {
	x, err := p.Exec()
	if err != nil {
		return nil, err
	}
	return p.runSecrets(ctx, x.Wrapper)
}

// runSecrets returns the values to mask in a run: every variable a
// wrapper adds or changes, the BATON_SECRETS variables, and baton's own
// credentials. It runs each wrapper once, on `env -0`, to see what it
// gives.
func (p *Project) runSecrets(ctx context.Context, wrappers ...[]string) ([]string, error) {
	base := p.opts.Environ()
	env, orig := proc.EnvMap(base), proc.EnvMap(base)
	var values []string
	wrapped := false
	for _, wrapper := range wrappers {
		if len(wrapper) == 0 {
			continue
		}
		wrapped = true
		given, err := wrapperEnv(ctx, wrapper, base)
		if err != nil {
			return nil, err
		}
		for k, v := range given {
			if old, ok := orig[k]; (!ok || old != v) && !notSecret[k] && !strings.HasPrefix(k, "LC_") {
				values = append(values, v)
			}
			env[k] = v
		}
	}
	var errs []error
	if names := strings.TrimSpace(p.opts.Getenv(envSecrets)); names != "" {
		for n := range strings.SplitSeq(names, ",") {
			n = strings.TrimSpace(n)
			switch v, ok := env[n]; {
			case n == "":
			case !envName.MatchString(n):
				errs = append(errs, fmt.Errorf("%s: %q is not a variable name: list names like APP_TOKEN,TF_VAR_db_password", envSecrets, n))
			case !ok:
				where := "in the environment"
				if wrapped {
					where = "in the environment or by the wrappers (BATON_WRAPPER, or wrapper in the pipeline file)"
				}
				errs = append(errs, fmt.Errorf("%s names %s, which is not set %s: set it, or take it off the list", envSecrets, n, where))
			default:
				values = append(values, v)
			}
		}
	}
	for _, n := range ownSecrets {
		if v := env[n]; v != "" {
			values = append(values, v)
		}
		if f := env[n+"_FILE"]; f != "" {
			// notify reads it and reports a problem with it; here it is
			// only masked.
			if data, err := os.ReadFile(f); err == nil {
				values = append(values, strings.TrimSpace(string(data)))
			}
		}
	}
	slices.Sort(values)
	return slices.Compact(values), errors.Join(errs...)
}

// wrapperEnv runs `wrapper… env -0` and returns the environment the
// wrapper gives its command.
func wrapperEnv(ctx context.Context, wrapper, environ []string) (map[string]string, error) {
	envBin, err := exec.LookPath("env")
	if err != nil {
		return nil, fmt.Errorf("%s: cannot find env(1) to read what the wrapper gives: %w", envWrapper, err)
	}
	ctx, cancel := context.WithTimeout(ctx, wrapperTimeout)
	defer cancel()
	argv := append(slices.Clone(wrapper), envBin, "-0")
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = environ
	// Stopped like every tool: SIGINT to its group, SIGKILL after the grace.
	out, err := proc.Output(ctx, cmd, 0, proc.Options{Tail: 1024})
	if err != nil {
		// Only the program is named: the wrapper's arguments may hold a
		// token. Its stderr is the wrapper's own message, not the values.
		var why string
		if pe, ok := errors.AsType[*proc.Error](err); ok {
			why, err = strings.TrimSpace(pe.Stderr), pe.Err
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %s", wrapperTimeout)
		}
		msg := fmt.Sprintf("%s: %s failed when run on `env -0` to see what it gives the tools: %v", envWrapper, argv[0], err)
		if why != "" {
			msg += ":\n" + why
		}
		return nil, errors.New(msg + "\ncheck that `$BATON_WRAPPER env` works in this shell")
	}
	m := map[string]string{}
	for kv := range strings.SplitSeq(string(out), "\x00") {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			m[k] = v
		}
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("%s: %s gave its command no environment at all: it must run the command it is given (`$BATON_WRAPPER env` should print variables)", envWrapper, argv[0])
	}
	return m, nil
}
