package handoff

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"sync"
	"time"
)

// Source says where a value came from.
type Source string

// The places a value can come from, in the order the resolver tries them
// after the stage that gives it.
const (
	FromStage       Source = "stage"
	FromArgument    Source = "argument"
	FromEnvironment Source = "environment"
	FromStore       Source = "store"
)

// Value is one handoff's value in canonical JSON, with where it came from.
type Value struct {
	// Name is the handoff's name.
	Name string
	// Raw is the value as canonical JSON.
	Raw json.RawMessage
	// Source says where the value came from; Origin names the place when
	// that helps a person find it: the environment variable or a file path.
	Source Source
	Origin string
	// Stage and RunID name the stage and run that produced the value, when
	// a stage did.
	Stage string
	RunID string
	// Time is when the value was given.
	Time time.Time
	// Sensitive values are never shown, only their checksum.
	Sensitive bool
}

// SHA256 returns the hex SHA-256 of the canonical value.
func (v Value) SHA256() string {
	sum := sha256.Sum256(v.Raw)
	return hex.EncodeToString(sum[:])
}

// Text returns the value as a tool's command-line argument wants it: a JSON
// string without its quotes, anything else as its JSON.
func (v Value) Text() string {
	var s string
	if len(v.Raw) > 0 && v.Raw[0] == '"' && json.Unmarshal(v.Raw, &s) == nil {
		return s
	}
	return string(v.Raw)
}

// Values is a set of handoff values by name. The zero Values is empty and
// ready to use; a Values is safe for concurrent use.
type Values struct {
	mu sync.RWMutex
	m  map[string]Value
}

// Set sets v under v.Name, replacing any value of that name.
func (vs *Values) Set(v Value) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if vs.m == nil {
		vs.m = make(map[string]Value)
	}
	vs.m[v.Name] = v
}

// Lookup returns the value named name.
func (vs *Values) Lookup(name string) (Value, bool) {
	if vs == nil {
		return Value{}, false
	}
	vs.mu.RLock()
	defer vs.mu.RUnlock()
	v, ok := vs.m[name]
	return v, ok
}

// Len returns the number of values.
func (vs *Values) Len() int {
	if vs == nil {
		return 0
	}
	vs.mu.RLock()
	defer vs.mu.RUnlock()
	return len(vs.m)
}

// All returns every value, sorted by name.
func (vs *Values) All() []Value {
	if vs == nil {
		return nil
	}
	vs.mu.RLock()
	defer vs.mu.RUnlock()
	out := make([]Value, 0, len(vs.m))
	for _, v := range vs.m {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b Value) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// PutRaw validates raw as a value of def and sets it, given by a stage. It
// is how code that knows a handoff only by its Def (a Terraform output
// mapped to a handoff, say) gives a value.
func (vs *Values) PutRaw(def Def, raw json.RawMessage) error {
	canon, err := def.Normalize(raw)
	if err != nil {
		return err
	}
	vs.Set(Value{Name: def.Name(), Raw: canon, Source: FromStage, Sensitive: def.Sensitive()})
	return nil
}
