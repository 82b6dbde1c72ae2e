// Package shellwords reads a command given as one setting: a command line
// split into words the way a POSIX shell would (quotes, backslashes, no
// expansion), or a JSON array of strings.
package shellwords

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Parse reads v as a JSON array of strings when it starts with "[", else
// as a command line split by Split.
func Parse(v string) ([]string, error) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "[") {
		var argv []string
		if err := json.Unmarshal([]byte(v), &argv); err != nil {
			return nil, fmt.Errorf("not a JSON array of strings: %w", err)
		}
		return argv, nil
	}
	return Split(v)
}

// Split splits a command line into words the way a POSIX shell
// would, with quoting but nothing else: words are separated by blanks;
// 'single quotes' keep everything literally; "double quotes" keep
// everything but \" and \\, which stand for " and \; outside quotes a
// backslash keeps the next character literally. There is no expansion of
// variables, globs or ~, and no pipes or redirections: run sh -c '…' for
// those.
func Split(s string) ([]string, error) {
	var (
		words  []string
		word   strings.Builder
		inWord bool // a word has begun, perhaps as '' which is empty
		quote  rune // the open quote, or 0
		escape bool // the previous character was an unquoted or "-quoted backslash
	)
	for _, r := range s {
		switch {
		case escape:
			if quote == '"' && r != '"' && r != '\\' {
				word.WriteRune('\\') // in "…", other backslashes are literal
			}
			word.WriteRune(r)
			escape = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				word.WriteRune(r)
			}
		case quote == '"':
			switch r {
			case '"':
				quote = 0
			case '\\':
				escape = true
			default:
				word.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '\\':
			escape, inWord = true, true
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	switch {
	case quote != 0:
		return nil, fmt.Errorf("unterminated %c quote", quote)
	case escape:
		return nil, errors.New("a backslash ends the line: it must be followed by the character it escapes")
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}
