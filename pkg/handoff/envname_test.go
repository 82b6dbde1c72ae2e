package handoff

import (
	"strings"
	"testing"
)

func TestValidEnvName(t *testing.T) {
	for _, name := range []string{"local", "staging", "prod-eu_1", "a", "2024", strings.Repeat("a", 63)} {
		if err := ValidEnvName(name); err != nil {
			t.Errorf("ValidEnvName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", "Prod", "../etc", "a/b", "prod.eu", "-x", "_x", strings.Repeat("a", 64), "my env"} {
		err := ValidEnvName(name)
		if err == nil {
			t.Errorf("ValidEnvName(%q) = nil, want an error", name)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "environment name") || strings.Contains(msg, "handoff") {
			t.Errorf("ValidEnvName(%q) = %q, want it to speak of an environment name, not a handoff", name, msg)
		}
		if !strings.Contains(msg, "lowercase letters, digits, '-' or '_'") {
			t.Errorf("ValidEnvName(%q) = %q, want it to say what is allowed", name, msg)
		}
	}
}
