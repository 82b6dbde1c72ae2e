package pipeline

import (
	"bytes"
	"strings"
	"testing"
)

// TestConsoleTableShowsAFewHandoffs: a stage that gives many handoffs
// (a Terraform stage's every output) keeps its summary line short.
func TestConsoleTableShowsAFewHandoffs(t *testing.T) {
	var buf bytes.Buffer
	c := NewConsole(&buf, ConsoleOptions{})
	c.table(&Summary{Stages: []StageResult{{
		Name: "terraform.hosts", Status: StatusSucceeded, Attempts: 1, Note: "applied",
		Given: []HandoffInfo{{Name: "terraform.hosts.a", Display: "1"}, {Name: "terraform.hosts.b", Display: "2"}, {Name: "terraform.hosts.c", Display: "3"}, {Name: "terraform.hosts.d", Display: "4"}},
	}}})
	got := buf.String()
	if !strings.Contains(got, "applied · a=1 · b=2 · +2 more") || strings.Contains(got, "c=3") {
		t.Errorf("summary line:\n%s", got)
	}
}
