package handoff

import "fmt"

// ValidEnvName reports whether name can name an environment (BATON_ENV, a
// hook's env): the same characters as a handoff name — 1 to 64 lowercase
// letters, digits, '_', '-' and '.', starting with a letter — since it names
// the directory .baton/<env> and the environment's lock and records.
func ValidEnvName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("environment name %q is not valid: use 1-64 lowercase letters, digits, '_', '-' or '.', starting with a letter, e.g. staging", truncate(name))
	}
	return nil
}
