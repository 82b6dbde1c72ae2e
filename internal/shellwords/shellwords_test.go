package shellwords

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  error
	}{
		{"", nil, nil},
		{"  notify  ", []string{"notify"}, nil},
		{"notify --to ops\t-v", []string{"notify", "--to", "ops", "-v"}, nil},
		{`say 'hello world' "it's" ''`, []string{"say", "hello world", "it's", ""}, nil},
		{`a"b"'c'd`, []string{"abcd"}, nil},
		{`"say \"hi\" \\ \n"`, []string{`say "hi" \ \n`}, nil},
		{`'no \escape'`, []string{`no \escape`}, nil},
		{`a\ b \'c\'`, []string{"a b", "'c'"}, nil},
		{`$HOME ~ *`, []string{"$HOME", "~", "*"}, nil},
		{`say "open`, nil, errors.New(`unterminated " quote`)},
		{`end\`, nil, errors.New("a backslash ends the line")},
	} {
		got, err := Split(tc.in)
		if tc.err != nil {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err.Error()) {
				t.Errorf("Split(%q): got error %v, want %v", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Split(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// FuzzSplit checks that splitting never panics, and that words
// quoted back into a line split into the same words.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{`notify --to ops`, `say 'a b' "c \"d\"" e\ f`, `'`, `"\`, `''`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		words, err := Split(line)
		if err != nil {
			return
		}
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		again, err := Split(strings.Join(quoted, " "))
		if err != nil || !slices.Equal(again, words) {
			t.Errorf("%q split into %q; quoted back, it split into %q, %v", line, words, again, err)
		}
	})
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		bad  bool
	}{
		{`["doppler", "run", "--"]`, []string{"doppler", "run", "--"}, false},
		{`  ["a b"]`, []string{"a b"}, false},
		{`doppler run --`, []string{"doppler", "run", "--"}, false},
		{`["unclosed"`, nil, true},
		{`[1, 2]`, nil, true},
	} {
		got, err := Parse(tc.in)
		if (err != nil) != tc.bad || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.bad)
		}
	}
}
