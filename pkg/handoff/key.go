package handoff

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Def describes a handoff without its Go type: what the runner, the store and
// the resolver need to move a value around, validate it and show it. Every
// [Key] is a Def.
type Def interface {
	// Name is the handoff's name, which is also its file name in a Store.
	Name() string
	// EnvVar is the environment variable that may give the value.
	EnvVar() string
	// Sensitive reports whether the value may hold a secret; a sensitive
	// value is never shown in a log, only its checksum.
	Sensitive() bool
	// Format says in a few words what a valid text form looks like, for
	// help and error messages.
	Format() string
	// Normalize validates an encoded value and returns its canonical JSON.
	Normalize(raw json.RawMessage) (json.RawMessage, error)
	// ParseText turns an argument or an environment variable's value into
	// canonical JSON.
	ParseText(text string) (json.RawMessage, error)
	// Display renders a canonical value on one line for people.
	Display(raw json.RawMessage) string
}

// Key names a handoff and fixes its Go type T. Keys are made by the New…
// constructors; the zero Key is invalid and every method on it returns an
// error. Keys are small values, safe to copy and to use concurrently.
type Key[T any] struct {
	k *key[T]
}

type key[T any] struct {
	name      string
	env       string
	format    string
	sensitive bool
	nameErr   error
	// decode parses canonical or outside JSON and validates the result.
	decode func(raw []byte) (T, error)
	// encode validates a Go value and returns its canonical JSON.
	encode func(v T) ([]byte, error)
	// parseText parses an argument or environment value.
	parseText func(text string) (T, error)
	// display renders a valid value on one line.
	display func(v T) string
}

var _ Def = Key[int]{}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)

// ValidName reports whether name can name a handoff: 1 to 64 characters,
// lowercase letters, digits, '_', '-' and '.', starting with a letter. Names
// are file names in a Store, so nothing else is allowed.
func ValidName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("handoff name %q is not valid: use 1-64 lowercase letters, digits, '_', '-' or '.', starting with a letter", name)
	}
	return nil
}

// defaultEnvVar is the environment variable a handoff named name is read
// from unless its Key says otherwise: BATON_ and the name in upper case with
// '-' and '.' turned into '_' (template_id → BATON_TEMPLATE_ID).
func defaultEnvVar(name string) string {
	return "BATON_" + strings.NewReplacer("-", "_", ".", "_").Replace(strings.ToUpper(name))
}

func newKey[T any](name, format string, k key[T]) Key[T] {
	k.name = name
	k.env = defaultEnvVar(name)
	k.format = format
	k.nameErr = ValidName(name)
	return Key[T]{k: &k}
}

var errZeroKey = errors.New("handoff: zero Key: make keys with handoff.New… constructors")

func (k Key[T]) check() error {
	if k.k == nil {
		return errZeroKey
	}
	return k.k.nameErr
}

// Name returns the handoff's name.
func (k Key[T]) Name() string {
	if k.k == nil {
		return ""
	}
	return k.k.name
}

// EnvVar returns the environment variable that may give the value: unless
// WithEnvVar says otherwise, BATON_ and the name in upper case with '-' and
// '.' turned into '_' (template_id → BATON_TEMPLATE_ID).
func (k Key[T]) EnvVar() string {
	if k.k == nil {
		return ""
	}
	return k.k.env
}

// Sensitive reports whether the value may hold a secret.
func (k Key[T]) Sensitive() bool { return k.k != nil && k.k.sensitive }

// Format describes the value's text form.
func (k Key[T]) Format() string {
	if k.k == nil {
		return ""
	}
	return k.k.format
}

// WithEnvVar returns a copy of k read from the environment variable env
// instead of the default one.
func (k Key[T]) WithEnvVar(env string) Key[T] {
	if k.k == nil {
		return k
	}
	c := *k.k
	c.env = env
	return Key[T]{k: &c}
}

// Secret returns a copy of k whose values are sensitive: shown as "***" in
// every log and record, and found by the runner's redactor in tool output.
func (k Key[T]) Secret() Key[T] {
	if k.k == nil {
		return k
	}
	c := *k.k
	c.sensitive = true
	return Key[T]{k: &c}
}

// Encode validates v and returns its canonical JSON.
func (k Key[T]) Encode(v T) (json.RawMessage, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	raw, err := k.k.encode(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.k.name, err)
	}
	return raw, nil
}

// Decode validates an encoded value and returns it as T.
func (k Key[T]) Decode(raw json.RawMessage) (T, error) {
	var zero T
	if err := k.check(); err != nil {
		return zero, err
	}
	v, err := k.k.decode(raw)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", k.k.name, err)
	}
	return v, nil
}

// Normalize validates raw and returns its canonical JSON.
func (k Key[T]) Normalize(raw json.RawMessage) (json.RawMessage, error) {
	v, err := k.Decode(raw)
	if err != nil {
		return nil, err
	}
	return k.Encode(v)
}

// ParseText parses an argument or environment value and returns its
// canonical JSON.
func (k Key[T]) ParseText(text string) (json.RawMessage, error) {
	if err := k.check(); err != nil {
		return nil, err
	}
	v, err := k.k.parseText(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.k.name, err)
	}
	return k.Encode(v)
}

// Display renders a canonical value on one line; "***" when k is sensitive
// and a short error note when raw is not a valid value.
func (k Key[T]) Display(raw json.RawMessage) string {
	if k.Sensitive() {
		return "***"
	}
	v, err := k.Decode(raw)
	if err != nil {
		return "(invalid: " + err.Error() + ")"
	}
	return k.k.display(v)
}

// Get returns the value of k in vs. It is an error when vs holds no value
// for k, which in a stage means the stage did not declare k in its needs.
func (k Key[T]) Get(vs *Values) (T, error) {
	var zero T
	if err := k.check(); err != nil {
		return zero, err
	}
	v, ok := vs.Lookup(k.k.name)
	if !ok {
		return zero, fmt.Errorf("handoff %q is not available here: a stage must list it in Needs to read it", k.k.name)
	}
	return k.Decode(v.Raw)
}

// Put validates x and sets it in vs as the value of k, given by a stage.
func (k Key[T]) Put(vs *Values, x T) error {
	raw, err := k.Encode(x)
	if err != nil {
		return err
	}
	vs.Set(Value{Name: k.k.name, Raw: raw, Source: FromStage, Sensitive: k.k.sensitive})
	return nil
}
