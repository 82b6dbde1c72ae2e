package handoff

import (
	"fmt"
	"regexp"
)

// envNameRE allows what every front end has accepted as an environment
// since environments came: a leading digit ("2024") but no '.', which
// handoff names differ in.
var envNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ValidEnvName reports whether name can name an environment (BATON_ENV, an
// environment block, a hook's env): 1 to 63 lowercase letters, digits, '-'
// and '_', starting with a letter or digit, since it names the directory
// .baton/<env> and the environment's lock and records.
func ValidEnvName(name string) error {
	if !envNameRE.MatchString(name) {
		return fmt.Errorf("environment name %q is not valid: use 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit, e.g. staging", truncate(name))
	}
	return nil
}
