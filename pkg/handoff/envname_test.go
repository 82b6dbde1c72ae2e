package handoff

import (
	"strings"
	"testing"
)

func TestValidEnvName(t *testing.T) {
	for _, name := range []string{"local", "staging", "prod-eu.1", "a"} {
		if err := ValidEnvName(name); err != nil {
			t.Errorf("ValidEnvName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", "Prod", "../etc", "a/b", "1st", strings.Repeat("a", 65), "my env"} {
		err := ValidEnvName(name)
		if err == nil {
			t.Errorf("ValidEnvName(%q) = nil, want an error", name)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "environment name") || strings.Contains(msg, "handoff") {
			t.Errorf("ValidEnvName(%q) = %q, want it to speak of an environment name, not a handoff", name, msg)
		}
	}
}
