package proc

import (
	"maps"
	"testing"
)

func TestEnvMap(t *testing.T) {
	got := EnvMap([]string{"A=1", "B=x=y", "NOEQUALS", "A=2", "EMPTY="})
	want := map[string]string{"A": "2", "B": "x=y", "EMPTY": ""}
	if !maps.Equal(got, want) {
		t.Errorf("EnvMap = %v, want %v (the last A wins, a value keeps its '=', an entry without '=' is no variable)", got, want)
	}
}
