package ledger

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"syscall"
)

// File is the embedded ledger of one environment: runs.jsonl and a lock
// file in Dir. A File{Dir: dir} reads an existing ledger without making
// its directory; Open makes it.
type File struct {
	Dir string
	// hostname is the host whose processes can be checked for liveness
	// (os.Hostname when empty).
	hostname string
}

// Open opens (creating) the embedded ledger in dir.
func Open(dir string) (*File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("ledger: %w", err)
	}
	host, _ := os.Hostname()
	return &File{Dir: dir, hostname: host}, nil
}

func (f *File) path() string { return filepath.Join(f.Dir, "runs.jsonl") }

// entry is one line of the log.
type entry struct {
	Event  string          `json:"event"` // begin or finish
	Record json.RawMessage `json:"record"`
	SHA256 string          `json:"sha256"` // of Record's bytes
}

// Begin records that a run started; Finish that it ended. Each is one
// fsynced line, appended under an exclusive lock of the log.
func (f *File) Begin(ctx context.Context, r *Record) error { return f.append(ctx, "begin", r) }

// Finish implements Ledger.
func (f *File) Finish(ctx context.Context, r *Record) error { return f.append(ctx, "finish", r) }

// append writes one entry; a cancelled context stops it before the write,
// never half-way through one.
func (f *File) append(ctx context.Context, event string, r *Record) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	rec, err := json.Marshal(r)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(rec)
	line, _ := json.Marshal(entry{Event: event, Record: rec, SHA256: hex.EncodeToString(sum[:])})
	file, err := os.OpenFile(f.path(), os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	defer file.Close()
	if err := syscall.Flock(int(file.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	defer syscall.Flock(int(file.Fd()), syscall.LOCK_UN)
	// A torn last line (a crash mid-write) must not swallow this one.
	if fi, err := file.Stat(); err == nil && fi.Size() > 0 {
		last := make([]byte, 1)
		if _, err := file.ReadAt(last, fi.Size()-1); err == nil && last[0] != '\n' {
			line = append([]byte{'\n'}, line...)
		}
	}
	if _, err := file.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	if err := file.Sync(); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	return nil
}

// Problem is a line of the log that could not be read.
type Problem struct {
	Path string
	Line int
	What string
}

func (p Problem) Error() string { return fmt.Sprintf("%s:%d: %s", p.Path, p.Line, p.What) }

// List returns every run, newest first, with the lines that could not be
// read. A run that began and never finished is running while its process
// lives on this host, and interrupted once it does not.
func (f *File) List(ctx context.Context) ([]*Record, []Problem, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("ledger: %w", err)
	}
	file, err := os.Open(f.path())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("ledger: %w", err)
	}
	defer file.Close()
	host := f.hostname
	if host == "" {
		host, _ = os.Hostname()
	}
	byID := map[string]*Record{}
	var order []string
	var problems []Problem
	rd := bufio.NewReaderSize(file, 64<<10)
	for n := 1; ; n++ {
		line, err := rd.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			r, what := parseLine(line, err == io.EOF)
			if what != "" {
				problems = append(problems, Problem{Path: f.path(), Line: n, What: what})
			} else {
				if _, seen := byID[r.RunID]; !seen {
					order = append(order, r.RunID)
				}
				byID[r.RunID] = r
			}
		}
		if err != nil {
			break
		}
	}
	out := make([]*Record, 0, len(order))
	for _, id := range order {
		r := byID[id]
		MarkInterrupted(r, host)
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.After(out[j].Start) })
	return out, problems, nil
}

func parseLine(line []byte, last bool) (*Record, string) {
	if last && line[len(line)-1] != '\n' {
		return nil, "a torn write: the line was cut short (a crash while it was written)"
	}
	var e entry
	if err := json.Unmarshal(line, &e); err != nil {
		return nil, "not a ledger entry: " + err.Error()
	}
	sum := sha256.Sum256(e.Record)
	if hex.EncodeToString(sum[:]) != e.SHA256 {
		return nil, "checksum mismatch: the line was edited or damaged"
	}
	var r Record
	if err := json.Unmarshal(e.Record, &r); err != nil || r.RunID == "" {
		return nil, "a record without a run ID"
	}
	return &r, ""
}

// Get returns one run by ID, or by a unique prefix of it.
func (f *File) Get(ctx context.Context, runID string) (*Record, error) {
	recs, _, err := f.List(ctx)
	if err != nil {
		return nil, err
	}
	return Find(recs, runID, "the run history in "+f.path())
}
