package pipeline

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
)

// MinSecretLen is the length under which a value is not redacted: masking
// every "1" or "yes" in a log would hide everything and protect nothing.
const MinSecretLen = 4

// Redactor replaces secret values in text with "***". The zero Redactor
// redacts nothing until secrets are added; a nil *Redactor is valid and
// redacts nothing. It is safe for concurrent use.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
	r       *strings.Replacer
}

// NewRedactor returns a Redactor that masks secrets.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add adds secrets to mask. Each is also masked in its JSON-escaped form,
// since tools print JSON. Values shorter than MinSecretLen are ignored.
func (r *Redactor) Add(secrets ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	changed := false
	for _, s := range secrets {
		for _, form := range secretForms(s) {
			if len(form) < MinSecretLen || slices.Contains(r.secrets, form) {
				continue
			}
			r.secrets = append(r.secrets, form)
			changed = true
		}
	}
	if !changed {
		return
	}
	// Longest first, so a secret that contains another is masked whole.
	slices.SortFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
	pairs := make([]string, 0, 2*len(r.secrets))
	for _, s := range r.secrets {
		pairs = append(pairs, s, "***")
	}
	r.r = strings.NewReplacer(pairs...)
}

func secretForms(s string) []string {
	forms := []string{s}
	if b, err := json.Marshal(s); err == nil {
		if esc := string(b[1 : len(b)-1]); esc != s {
			forms = append(forms, esc)
		}
	}
	return forms
}

// Redact returns s with every secret replaced by "***".
func (r *Redactor) Redact(s string) string {
	if r == nil || s == "" {
		return s
	}
	r.mu.RLock()
	rep := r.r
	r.mu.RUnlock()
	if rep == nil {
		return s
	}
	return rep.Replace(s)
}
