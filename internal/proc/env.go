package proc

import "strings"

// EnvMap turns an environment as os.Environ gives it into a map; of a
// name given twice the last value wins, as it does for a program.
func EnvMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
