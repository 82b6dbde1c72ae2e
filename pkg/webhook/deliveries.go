package webhook

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Entry is one line of the delivery log: a verified delivery, what became
// of it and the run it started or joined.
type Entry struct {
	Time time.Time `json:"time"`
	Delivery
	Env     string  `json:"env,omitempty"`
	Outcome Outcome `json:"outcome"`
	Reason  string  `json:"reason,omitempty"`
	RunID   string  `json:"run_id,omitempty"`
}

// maxSeen bounds the delivery IDs kept for replay detection; past it the
// oldest are forgotten (a generic delivery that old is stale anyway).
const maxSeen = 200_000

var errLogClosed = errors.New("the delivery log is closed")

// deliveryLog is the append-only record of verified deliveries
// (deliveries.jsonl) and the set of delivery IDs seen, rebuilt from it at
// start so that a restart does not reopen the door to replays. Writers
// wait until their line is on disk; concurrent writers share one fsync.
type deliveryLog struct {
	path      string
	f         *os.File
	retention time.Duration
	reqs      chan logReq
	quit      chan struct{}
	stopped   chan struct{}
	closeOnce sync.Once

	mu   sync.Mutex
	seen map[string]time.Time
}

type logReq struct {
	line []byte
	done chan error
}

// openLog opens dir/deliveries.jsonl, holding a lock on it so that one
// server at a time uses it, and remembers the IDs of the deliveries of the
// last retention.
func openLog(dir string, retention time.Duration, now time.Time) (*deliveryLog, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "deliveries.jsonl")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is in use by another baton serve: stop it first, or give this one another state directory", path)
	}
	l := &deliveryLog{path: path, f: f, retention: retention, seen: map[string]time.Time{},
		reqs: make(chan logReq), quit: make(chan struct{}), stopped: make(chan struct{})}
	if err := l.load(now); err != nil {
		f.Close()
		return nil, err
	}
	go l.loop()
	return l, nil
}

// load rebuilds the seen set. A torn last line (a crash mid-write) is
// skipped and the next line starts fresh.
func (l *deliveryLog) load(now time.Time) error {
	data, err := os.ReadFile(l.path)
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var e Entry
		if json.Unmarshal(sc.Bytes(), &e) != nil || e.ID == "" || now.Sub(e.Time) > l.retention {
			continue
		}
		key := seenKey(e.Provider, e.ID)
		if e.Outcome == Dropped {
			delete(l.seen, key) // never deployed: may be sent again
		} else {
			l.seen[key] = e.Time
		}
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		_, err = l.f.Write([]byte("\n"))
	}
	return err
}

func seenKey(p Provider, id string) string { return string(p) + "\x00" + id }

// claim marks d's ID seen; false means it was seen before: a replay.
func (l *deliveryLog) claim(d Delivery) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	key := seenKey(d.Provider, d.ID)
	if _, ok := l.seen[key]; ok {
		return false
	}
	if len(l.seen) >= maxSeen {
		l.forgetOldest(d.Received)
	}
	l.seen[key] = d.Received
	return true
}

// unclaim forgets d's ID, for a delivery that was not taken after all.
func (l *deliveryLog) unclaim(d Delivery) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.seen, seenKey(d.Provider, d.ID))
}

// forgetOldest drops IDs past the retention, or else the older half.
func (l *deliveryLog) forgetOldest(now time.Time) {
	cut := now.Add(-l.retention)
	for k, t := range l.seen {
		if t.Before(cut) {
			delete(l.seen, k)
		}
	}
	if len(l.seen) < maxSeen {
		return
	}
	var sum time.Duration
	for _, t := range l.seen {
		sum += now.Sub(t) / maxSeen
	}
	for k, t := range l.seen {
		if now.Sub(t) >= sum {
			delete(l.seen, k)
		}
	}
}

// append writes e and returns once it is on disk.
func (l *deliveryLog) append(e Entry) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	req := logReq{line: append(line, '\n'), done: make(chan error, 1)}
	select {
	case l.reqs <- req:
		return <-req.done
	case <-l.quit:
		return errLogClosed
	}
}

// loop writes what arrives in batches: one write and one fsync for every
// line that came in while the last fsync ran.
func (l *deliveryLog) loop() {
	defer close(l.stopped)
	for {
		var batch []logReq
		select {
		case r := <-l.reqs:
			batch = append(batch, r)
		case <-l.quit:
			return
		}
	more:
		for len(batch) < 1024 {
			select {
			case r := <-l.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		var buf bytes.Buffer
		for _, r := range batch {
			buf.Write(r.line)
		}
		_, err := l.f.Write(buf.Bytes())
		if err == nil {
			err = l.f.Sync()
		}
		if err != nil {
			err = fmt.Errorf("delivery log %s: %w", l.path, err)
		}
		for _, r := range batch {
			r.done <- err
		}
	}
}

// close stops the writer and releases the file and its lock.
func (l *deliveryLog) close() error {
	var err error
	l.closeOnce.Do(func() {
		close(l.quit)
		<-l.stopped
		err = l.f.Close()
	})
	return err
}
