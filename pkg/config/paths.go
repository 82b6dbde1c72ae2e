package config

import (
	"os"
	"os/user"
	"path/filepath"
	"strings"
)

// expandHome expands a leading ~ or ~user as ssh does and makes a
// relative path relative to dir.
func expandHome(p, dir string) string {
	if strings.HasPrefix(p, "~") {
		name, rest, _ := strings.Cut(p[1:], "/")
		home := ""
		if name == "" {
			home, _ = os.UserHomeDir()
		} else if u, err := user.Lookup(name); err == nil {
			home = u.HomeDir
		}
		if home != "" {
			return filepath.Join(home, rest)
		}
	}
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}
