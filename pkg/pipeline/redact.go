package pipeline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf16"
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

// secretForms are the ways a secret shows in output: itself; each line of
// a multi-line one (a PEM key), since output is masked line by line; and
// its JSON-escaped forms, as Go writes them (<>& escaped) and as Python
// does (Ansible: non-ASCII as \uXXXX, <>& as they are).
func secretForms(s string) []string {
	forms := []string{s}
	if strings.ContainsAny(s, "\r\n") {
		for line := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
			forms = append(forms, line)
		}
	}
	var plain bytes.Buffer
	enc := json.NewEncoder(&plain)
	enc.SetEscapeHTML(false)
	if enc.Encode(s) == nil {
		forms = append(forms, jsonBody(plain.String()))
	}
	if b, err := json.Marshal(s); err == nil {
		forms = append(forms, jsonBody(string(b)))
	}
	var ascii strings.Builder
	for _, r := range jsonBody(plain.String()) {
		switch {
		case r < 0x80:
			ascii.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&ascii, "\\u%04x\\u%04x", r1, r2)
		default:
			fmt.Fprintf(&ascii, "\\u%04x", r)
		}
	}
	forms = append(forms, ascii.String())
	slices.Sort(forms)
	return slices.Compact(forms)
}

// jsonBody is a JSON string without its quotes and newline.
func jsonBody(js string) string {
	js = strings.TrimSpace(js)
	return js[1 : len(js)-1]
}

// longest is the length of the longest secret form.
func (r *Redactor) longest() int {
	if r == nil {
		return 0
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.secrets) == 0 {
		return 0
	}
	return len(r.secrets[0]) // sorted longest first
}

// cut returns where to split b near n so that no secret straddles the
// cut: n, or the start of a secret that crosses n (or its end, when it
// starts at 0). b should run at least the longest secret past n.
func (r *Redactor) cut(b []byte, n int) int {
	if r == nil {
		return n
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, s := range r.secrets {
		lo := max(0, n-len(s)+1)
		hi := min(len(b), n+len(s)-1)
		if i := bytes.Index(b[lo:hi], []byte(s)); i >= 0 {
			if lo+i == 0 {
				return len(s)
			}
			return lo + i
		}
	}
	return n
}

// Error returns err with its message redacted; errors.Is and errors.As
// still see err. It returns err itself when there is nothing to mask.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := r.Redact(err.Error())
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

// redactedError is an error whose message has its secrets masked, for
// callers to print and record; errors.Is and errors.As see the error
// underneath.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

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
