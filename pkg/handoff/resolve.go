package handoff

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// ErrMissing is wrapped by every *MissingError.
var ErrMissing = errors.New("handoff missing")

// MissingError reports a handoff that a stage needs and that no source gave.
// Its message says which stage needs it and the three ways to give it.
type MissingError struct {
	Handoff string // the handoff's name
	Format  string // what a valid value looks like
	EnvVar  string // the environment variable that may give it
	Stage   string // the stage that needs it, when known
	// Producer is the stage that gives the handoff, when the pipeline has
	// one; StoreDir is where its value would have been stored.
	Producer string
	StoreDir string
	// Example, when set, shows how to pass the value as an argument in the
	// front end at hand, e.g. "mage stage2 8025".
	Example string
}

func (e *MissingError) Error() string {
	var b strings.Builder
	if e.Stage != "" {
		fmt.Fprintf(&b, "stage %q needs handoff %q", e.Stage, e.Handoff)
	} else {
		fmt.Fprintf(&b, "handoff %q is needed", e.Handoff)
	}
	b.WriteString(" and no source gave it. Give it one of three ways: as an argument")
	if e.Example != "" {
		fmt.Fprintf(&b, " (%s)", e.Example)
	}
	fmt.Fprintf(&b, "; in the environment, %s=<%s>; or ", e.EnvVar, e.Format)
	switch {
	case e.Producer != "" && e.StoreDir != "":
		fmt.Fprintf(&b, "run stage %q first, which stores it in %s", e.Producer, e.StoreDir)
	case e.Producer != "":
		fmt.Fprintf(&b, "run stage %q first, which stores it", e.Producer)
	default:
		b.WriteString("run the stage that gives it first, so that it is stored")
	}
	return b.String()
}

func (e *MissingError) Unwrap() error { return ErrMissing }

// InvalidError reports a value that a source gave but that is not valid.
type InvalidError struct {
	Handoff string
	Source  Source
	Origin  string // the environment variable or file, when there is one
	Err     error
}

func (e *InvalidError) Error() string {
	from := string(e.Source)
	if e.Origin != "" {
		from += " " + e.Origin
	}
	return fmt.Sprintf("handoff %q from %s is not valid: %v", e.Handoff, from, e.Err)
}

func (e *InvalidError) Unwrap() error { return e.Err }

// Resolver finds a handoff's value outside the running pipeline: in an
// explicit argument, then the environment, then the store. The zero
// Resolver finds nothing but the environment.
type Resolver struct {
	// Args holds explicit arguments by handoff name, in their text form.
	Args map[string]string
	// Getenv reads the environment; nil means os.Getenv.
	Getenv func(string) string
	// Store is consulted last; nil means there is none.
	Store *Store
}

// Resolve returns the value of def from the first source that has one. A
// value that is present but not valid is an *InvalidError, not skipped: a
// typo in BATON_TEMPLATE_ID must not quietly fall back to an old value. When
// no source has a value the error is a *MissingError.
func (r *Resolver) Resolve(def Def) (Value, error) {
	if text, ok := r.Args[def.Name()]; ok {
		raw, err := def.ParseText(text)
		if err != nil {
			return Value{}, &InvalidError{Handoff: def.Name(), Source: FromArgument, Err: err}
		}
		return Value{Name: def.Name(), Raw: raw, Source: FromArgument, Sensitive: def.Sensitive()}, nil
	}
	getenv := r.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if env := def.EnvVar(); env != "" {
		if text := getenv(env); text != "" {
			raw, err := def.ParseText(text)
			if err != nil {
				return Value{}, &InvalidError{Handoff: def.Name(), Source: FromEnvironment, Origin: env, Err: err}
			}
			return Value{Name: def.Name(), Raw: raw, Source: FromEnvironment, Origin: env, Sensitive: def.Sensitive()}, nil
		}
	}
	missing := &MissingError{Handoff: def.Name(), Format: def.Format(), EnvVar: def.EnvVar()}
	if r.Store == nil {
		return Value{}, missing
	}
	missing.StoreDir = r.Store.Dir()
	v, err := r.Store.Get(def)
	if errors.Is(err, ErrNotStored) {
		return Value{}, missing
	}
	if err != nil {
		return Value{}, err
	}
	return v, nil
}
