package stages

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// fingerprint accumulates a stage's inputs into one SHA-256: named parts,
// in the order they are added, each length-prefixed so that no two
// different inputs hash alike.
type fingerprint struct{ h hash.Hash }

func newFingerprint(kind string) *fingerprint {
	f := &fingerprint{h: sha256.New()}
	f.add("kind", kind)
	return f
}

func (f *fingerprint) add(name, value string) {
	fmt.Fprintf(f.h, "%d:%s=%d:%s\n", len(name), name, len(value), value)
}

// addMap adds a map in key order.
func (f *fingerprint) addMap(name string, m map[string]string) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		f.add(name+"."+k, m[k])
	}
}

// addTree adds every regular file under root, by relative path and content,
// skipping the directories and files skip names (matched against each
// path element's base name, e.g. ".terraform" or "*.tfstate*").
func (f *fingerprint) addTree(root string, skip ...string) error {
	fi, err := os.Stat(root)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return f.addFile(filepath.Base(root), root)
	}
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		for _, pat := range skip {
			if ok, _ := filepath.Match(pat, d.Name()); ok && path != root {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		return f.addFile(filepath.ToSlash(rel), path)
	})
}

func (f *fingerprint) addFile(name, path string) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	content := sha256.New()
	if _, err := io.Copy(content, file); err != nil {
		return err
	}
	f.add("file:"+name, hex.EncodeToString(content.Sum(nil)))
	return nil
}

func (f *fingerprint) sum() string {
	return "sha256:" + hex.EncodeToString(f.h.Sum(nil))
}

// skipAlways are never inputs: version control, caches and logs.
var skipAlways = []string{".git", "*.log", "*~", ".#*"}

func withSkip(extra ...string) []string {
	return append(append([]string(nil), skipAlways...), extra...)
}
