package proc

import (
	"slices"
	"testing"
)

func TestTail(t *testing.T) {
	for _, tc := range []struct {
		name   string
		max    int
		writes []string
		want   string
	}{
		{"short", 10, []string{"ab", "c\n"}, "abc\n"},
		{"cut at a line", 8, []string{"one\ntwo\nthree\n"}, "…three\n"},
		{"cut without a line break", 4, []string{"abcdefgh"}, "…efgh"},
		{"invalid utf-8", 10, []string{"a\xffb"}, "a�b"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tail := NewTail(tc.max)
			for _, w := range tc.writes {
				if n, err := tail.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if got := tail.String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLines(t *testing.T) {
	var got []string
	l := &Lines{Fn: func(s string) { got = append(got, s) }}
	for _, w := range []string{"a\r\nb", "c\n", "\nlast"} {
		_, _ = l.Write([]byte(w))
	}
	l.Flush()
	if want := []string{"a", "bc", "", "last"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
