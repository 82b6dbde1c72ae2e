package proc

import (
	"bytes"
	"strings"
	"sync"
)

// Buffer is a bytes.Buffer that several goroutines may write at once (a
// program's stdout and stderr copied into one buffer, say). Its zero value
// is empty and ready.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes returns a copy of what was written.
func (b *Buffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// String returns what was written.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Tail keeps the last bytes written to it; several goroutines may write at
// once.
type Tail struct {
	mu  sync.Mutex
	max int
	buf []byte
	cut bool
}

// NewTail returns a Tail that keeps the last max bytes.
func NewTail(max int) *Tail { return &Tail{max: max} }

// Write keeps the end of what was written so far.
func (t *Tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.cut = true
	}
	return len(p), nil
}

// String returns what was kept, as valid UTF-8. When earlier bytes were
// dropped, it starts after the first line break, with "…".
func (t *Tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := string(t.buf)
	if t.cut {
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
		s = "…" + s
	}
	return strings.ToValidUTF8(s, "�")
}

// Lines calls Fn with each complete line written to it, without its line
// break ("\n" or "\r\n"); Flush passes on an unfinished last line. It is
// for one writer at a time, as exec.Cmd's copying goroutine is.
type Lines struct {
	Fn  func(line string)
	buf []byte
}

// Write passes on each line p completes.
func (l *Lines) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.Fn(strings.TrimSuffix(string(l.buf[:i]), "\r"))
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}

// Flush passes on what is left of an unfinished line.
func (l *Lines) Flush() {
	if len(l.buf) > 0 {
		l.Fn(strings.TrimSuffix(string(l.buf), "\r"))
		l.buf = nil
	}
}
