package pipeline

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRedactorForms(t *testing.T) {
	key := "-----BEGIN KEY-----\nAAAAsecretline1\nBBBBsecretline2\n-----END KEY-----"
	r := NewRedactor(key, `pa<ss>&wörd"x`)
	for _, tc := range []struct{ in, want string }{
		{"key: " + key, "key: ***"},
		// Output is masked a line at a time, so each line of a key is.
		{"AAAAsecretline1", "***"},
		{"  BBBBsecretline2  ", "  ***  "},
		{`{"pw": "pa<ss>&wörd\"x"}`, `{"pw": "***"}`},                // Python's json, ensure_ascii=False
		{`{"pw": "pa<ss>&w\u00f6rd\"x"}`, `{"pw": "***"}`},           // Python's json.dumps default
		{`{"pw": "pa\u003css\u003e\u0026wörd\"x"}`, `{"pw": "***"}`}, // Go's encoding/json
		{"pa<ss>&wörd\"x", "***"},
	} {
		if got := r.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactorError(t *testing.T) {
	r := NewRedactor("s3cr3t-value")
	base := errors.New("auth failed for s3cr3t-value")
	err := r.Error(base)
	if err.Error() != "auth failed for ***" || !errors.Is(err, base) {
		t.Errorf("Error = %v (Is base: %v)", err, errors.Is(err, base))
	}
	plain := errors.New("nothing secret")
	if r.Error(plain) != plain || r.Error(nil) != nil {
		t.Error("an error with nothing to mask was wrapped")
	}
}

// A line longer than maxLine is split, but a secret across the split
// point is kept whole and masked.
func TestLongLineSplitKeepsSecretsWhole(t *testing.T) {
	secret := "tok-0123456789"
	for _, offset := range []int{maxLine - 5, maxLine - 1, maxLine, 0} {
		p, _ := New(Func("tool", nil, nil, func(ctx context.Context, j *Job) error {
			w := j.Output("stdout")
			defer w.Close()
			line := strings.Repeat("x", offset) + secret + strings.Repeat("y", maxLine+100)
			for i := 0; i < len(line); i += 1000 {
				w.Write([]byte(line[i:min(i+1000, len(line))]))
			}
			return nil
		}))
		dir := t.TempDir()
		if _, err := p.Run(context.Background(), Options{RunDir: dir, Secrets: []string{secret}}); err != nil {
			t.Fatal(err)
		}
		kept, err := os.ReadFile(filepath.Join(dir, "tool", "stdout.log"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(kept), "tok-") || strings.Contains(string(kept), "6789") || !strings.Contains(string(kept), "***") {
			t.Errorf("secret at offset %d: the kept output shows part of it, or no mask", offset)
		}
		if n := strings.Count(string(kept), "\n"); n < 2 {
			t.Errorf("secret at offset %d: %d lines, want the long line split", offset, n)
		}
	}
}
