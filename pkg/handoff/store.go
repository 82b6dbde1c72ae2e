package handoff

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/baton-deploy/baton/internal/atomicfile"
	"github.com/baton-deploy/baton/internal/regularfile"
)

// ErrNotStored is returned, wrapped, by [Store.Get] when no stage has stored
// the handoff yet.
var ErrNotStored = errors.New("not stored")

// CorruptError reports a stored handoff file that cannot be trusted:
// truncated, not an envelope, of a newer schema, or changed by hand.
type CorruptError struct {
	Path string
	Err  error
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("handoff file %s is not usable: %v; delete it and re-run the stage that gives it, or give the value as an argument", e.Path, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Store keeps the latest value of each handoff in a directory, one
// versioned JSON envelope per handoff named <name>.json. Writes are atomic
// and durable, so a reader sees the old value or the new one, never a part.
// Files are 0600 and the directory 0700, since values may hold secrets.
// A Store is safe for concurrent use by goroutines and processes.
type Store struct {
	dir string
}

// OpenStore opens the store in dir, creating the directory when needed.
func OpenStore(dir string) (*Store, error) {
	if dir == "" {
		return nil, errors.New("handoff store: no directory given")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("handoff store: %w", err)
	}
	return &Store{dir: dir}, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// Path returns the file that holds the handoff named name.
func (s *Store) Path(name string) string { return filepath.Join(s.dir, name+".json") }

// Put stores v, replacing the value stored under its name.
func (s *Store) Put(v Value) error {
	data, err := encodeEnvelope(v)
	if err != nil {
		return fmt.Errorf("handoff store: %w", err)
	}
	if err := atomicfile.Write(s.Path(v.Name), data, 0o600); err != nil {
		return fmt.Errorf("handoff store: %w", err)
	}
	return nil
}

// Get returns the stored value of def, validated against def. It returns
// an error wrapping ErrNotStored when there is none and a *CorruptError
// when the file cannot be trusted.
func (s *Store) Get(def Def) (Value, error) {
	v, err := s.read(def.Name())
	if err != nil {
		return Value{}, err
	}
	if _, err := def.Normalize(v.Raw); err != nil {
		return Value{}, &CorruptError{Path: s.Path(def.Name()), Err: err}
	}
	v.Sensitive = v.Sensitive || def.Sensitive()
	return v, nil
}

// maxStoredFile bounds a stored handoff's file. Values from Terraform's
// output are not bounded by MaxValueFile, so it is generous: it is there so
// that a device or a FIFO in the store is refused, not read forever.
const maxStoredFile = 256 << 20

func (s *Store) read(name string) (Value, error) {
	if err := ValidName(name); err != nil {
		return Value{}, err
	}
	path := s.Path(name)
	data, err := regularfile.Read(path, maxStoredFile)
	if errors.Is(err, fs.ErrNotExist) {
		return Value{}, fmt.Errorf("handoff %q in %s: %w", name, s.dir, ErrNotStored)
	}
	if err != nil {
		return Value{}, fmt.Errorf("handoff store: %w", err)
	}
	v, err := decodeEnvelope(data)
	if err != nil {
		return Value{}, &CorruptError{Path: path, Err: err}
	}
	if v.Name != name {
		return Value{}, &CorruptError{Path: path, Err: fmt.Errorf("it holds handoff %q, not %q", v.Name, name)}
	}
	v.Origin = path
	return v, nil
}

// List returns every stored value, sorted by name, without validating them
// against their Defs (List does not know them). A file that cannot be
// trusted is returned in the error, joined with any others, while the
// values that can be read are still returned.
func (s *Store) List() ([]Value, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("handoff store: %w", err)
	}
	var (
		out  []Value
		errs []error
	)
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		v, err := s.read(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, errors.Join(errs...)
}

// Delete removes the stored value of the handoff named name; it is not an
// error when there is none.
func (s *Store) Delete(name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	if err := os.Remove(s.Path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("handoff store: %w", err)
	}
	return atomicfile.SyncDir(s.dir)
}
