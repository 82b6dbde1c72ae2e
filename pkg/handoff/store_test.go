package handoff

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestStorePutGet(t *testing.T) {
	s, err := OpenStore(filepath.Join(t.TempDir(), "handoffs"))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := TemplateID.Encode(8025)
	when := time.Date(2026, 11, 22, 22, 14, 5, 0, time.UTC)
	if err := s.Put(Value{Name: "template_id", Raw: raw, Stage: "packer", RunID: "r1", Time: when}); err != nil {
		t.Fatal(err)
	}
	v, err := s.Get(TemplateID)
	if err != nil {
		t.Fatal(err)
	}
	if v.Source != FromStore || v.Stage != "packer" || v.RunID != "r1" || !v.Time.Equal(when) {
		t.Errorf("Get = %+v, want source store, stage packer, run r1, time %v", v, when)
	}
	if v.Origin != s.Path("template_id") {
		t.Errorf("Origin = %q, want the file path", v.Origin)
	}
	if id, _ := TemplateID.Decode(v.Raw); id != 8025 {
		t.Errorf("value = %d, want 8025", id)
	}
	for _, p := range []string{s.Dir(), s.Path("template_id")} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		want := os.FileMode(0o600)
		if fi.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s mode = %v, want %v", p, fi.Mode().Perm(), want)
		}
	}
}

func TestStoreGetNotStored(t *testing.T) {
	s, _ := OpenStore(t.TempDir())
	_, err := s.Get(TemplateID)
	if !errors.Is(err, ErrNotStored) {
		t.Errorf("Get on an empty store: err = %v, want ErrNotStored", err)
	}
}

func TestStoreRejectsDamagedFiles(t *testing.T) {
	good, err := encodeEnvelope(Value{Name: "template_id", Raw: []byte("8025"), Stage: "packer"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		content string
		want    string
	}{
		{name: "truncated", content: string(good[:len(good)/2]), want: "truncated"},
		{name: "empty", content: "", want: "truncated"},
		{name: "edited value", content: strings.Replace(string(good), `"value": 8025`, `"value": 8026`, 1), want: "checksum mismatch"},
		{name: "newer schema", content: strings.Replace(string(good), `"schema": 1`, `"schema": 2`, 1), want: "upgrade baton"},
		{name: "not an envelope", content: `{"hello": "world"}`, want: "not a handoff envelope"},
		{name: "other handoff", content: strings.ReplaceAll(string(good), `"name": "template_id"`, `"name": "other"`), want: `holds handoff "other"`},
		{name: "valid envelope, invalid value", content: mustEnvelope(t, "template_id", "42"), want: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := OpenStore(t.TempDir())
			if err := os.WriteFile(s.Path("template_id"), []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := s.Get(TemplateID)
			var corrupt *CorruptError
			if !errors.As(err, &corrupt) {
				t.Fatalf("Get: err = %v, want a *CorruptError", err)
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), s.Path("template_id")) {
				t.Errorf("error %q should name the path and say %q", err, tt.want)
			}
		})
	}
}

func mustEnvelope(t *testing.T, name, raw string) string {
	t.Helper()
	b, err := encodeEnvelope(Value{Name: name, Raw: []byte(raw)})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStoreReadersNeverSeeHalfAFile races writers of large values against
// readers: every read must decode to one of the written values.
func TestStoreReadersNeverSeeHalfAFile(t *testing.T) {
	s, _ := OpenStore(t.TempDir())
	k := NewString("blob")
	values := make([]string, 4)
	for i := range values {
		values[i] = strings.Repeat(fmt.Sprint(i), 256<<10)
	}
	raw, _ := k.Encode(values[0])
	if err := s.Put(Value{Name: "blob", Raw: raw}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for w := range 2 {
		wg.Go(func() {
			for i := range 20 {
				raw, _ := k.Encode(values[(w+i)%len(values)])
				if err := s.Put(Value{Name: "blob", Raw: raw}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for range 40 {
				v, err := s.Get(k)
				if err != nil {
					errs <- fmt.Errorf("reader saw a damaged file: %w", err)
					return
				}
				got, _ := k.Decode(v.Raw)
				if len(got) != 256<<10 || strings.Count(got, got[:1]) != len(got) {
					errs <- fmt.Errorf("reader saw a mixed value of %d bytes", len(got))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestStoreListSkipsTempFilesAndReportsDamage(t *testing.T) {
	s, _ := OpenStore(t.TempDir())
	raw, _ := TemplateID.Encode(8025)
	s.Put(Value{Name: "template_id", Raw: raw})
	os.WriteFile(filepath.Join(s.Dir(), ".inventory.json.tmp-123"), []byte("{"), 0o600)
	os.WriteFile(s.Path("broken"), []byte("{"), 0o600)
	vs, err := s.List()
	if len(vs) != 1 || vs[0].Name != "template_id" {
		t.Errorf("List = %v, want just template_id", vs)
	}
	if err == nil || !strings.Contains(err.Error(), "broken.json") {
		t.Errorf("List error = %v, want one naming broken.json", err)
	}
	if err := s.Delete("template_id"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(TemplateID); !errors.Is(err, ErrNotStored) {
		t.Errorf("after Delete: err = %v, want ErrNotStored", err)
	}
	if err := s.Delete("template_id"); err != nil {
		t.Errorf("Delete of an absent handoff: %v", err)
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	in := Value{Name: "template_id", Raw: []byte(" 8025 "), Stage: "packer", RunID: "r", Time: time.Unix(1, 0).UTC(), Sensitive: true}
	b, err := encodeEnvelope(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeEnvelope(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(out.Raw) != "8025" || out.Stage != "packer" || out.RunID != "r" || !out.Sensitive || !out.Time.Equal(in.Time) {
		t.Errorf("round trip = %+v", out)
	}
	if _, err := encodeEnvelope(Value{Name: "x", Raw: []byte("{")}); err == nil {
		t.Error("encodeEnvelope accepted invalid JSON")
	}
	if _, err := decodeEnvelope(append(b, []byte(`{"schema":1}`)...)); err == nil {
		t.Error("decodeEnvelope accepted trailing data")
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	for _, v := range []Value{
		{Name: "template_id", Raw: []byte("8025"), Stage: "packer", RunID: "20261122T221405-3f9a"},
		{Name: "inventory", Raw: []byte(`{"all":{"hosts":{"web-1":{"ansible_host":"127.0.0.11"}}}}`)},
		{Name: "token", Raw: []byte(`"s3cret"`), Sensitive: true},
	} {
		b, _ := encodeEnvelope(v)
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte(`{"schema":99}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := decodeEnvelope(data)
		if err != nil {
			return
		}
		// Whatever decodes must encode again and decode to the same value.
		b, err := encodeEnvelope(v)
		if err != nil {
			t.Fatalf("decoded %+v but cannot encode it: %v", v, err)
		}
		w, err := decodeEnvelope(b)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if string(w.Raw) != string(v.Raw) || w.Name != v.Name || w.SHA256() != v.SHA256() {
			t.Fatalf("round trip changed the value: %+v → %+v", v, w)
		}
	})
}

// A FIFO (or a device) in the store's place of a handoff is refused at
// once, not waited for.
func TestStoreRefusesAFIFO(t *testing.T) {
	s, _ := OpenStore(t.TempDir())
	if err := syscall.Mkfifo(s.Path("template_id"), 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := s.Get(TemplateID); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "is a FIFO (named pipe)") {
			t.Errorf("Get: err = %v, want it to refuse the FIFO", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Get did not return within a minute")
	}
}
