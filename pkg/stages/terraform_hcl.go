//go:build baton_tf_v2

package stages

import "bytes"

// hclBlock is one top-level block of a .tf file: `module "net" { ... }`
// has Type "module", Labels ["net"] and the text between the braces as Body.
type hclBlock struct {
	Type   string
	Labels []string
	Body   string
}

// hclBlocks finds the top-level blocks of HCL source, well enough to tell
// which parts of a configuration init depends on: it knows strings with
// template sequences, comments and heredocs, and never fails. On invalid
// input it returns what it could make out; Terraform reports the error.
func hclBlocks(src []byte) []hclBlock {
	var blocks []hclBlock
	i := 0
	for i < len(src) {
		i = skipSpace(src, i, true)
		if i >= len(src) {
			break
		}
		if !isIdentStart(src[i]) {
			i = lineEnd(src, i)
			continue
		}
		start := i
		i = identEnd(src, i)
		b := hclBlock{Type: string(src[start:i])}
		for {
			i = skipSpace(src, i, false)
			switch {
			case i >= len(src):
			case src[i] == '"':
				end := stringEnd(src, i)
				b.Labels = append(b.Labels, string(bytes.Trim(src[i:end], `"`)))
				i = end
				continue
			case isIdentStart(src[i]):
				end := identEnd(src, i)
				b.Labels = append(b.Labels, string(src[i:end]))
				i = end
				continue
			case src[i] == '{':
				end := braceEnd(src, i)
				b.Body = string(src[i+1 : max(end-1, i+1)])
				blocks = append(blocks, b)
				i = end
			default:
				// An attribute or something else: not a block.
				i = lineEnd(src, i)
			}
			break
		}
	}
	return blocks
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func identEnd(src []byte, i int) int {
	for i < len(src) && (isIdentStart(src[i]) || src[i] == '-' || src[i] >= '0' && src[i] <= '9') {
		i++
	}
	return i
}

func lineEnd(src []byte, i int) int {
	if n := bytes.IndexByte(src[i:], '\n'); n >= 0 {
		return i + n + 1
	}
	return len(src)
}

// skipSpace skips blanks and comments, and newlines when newlines is set.
func skipSpace(src []byte, i int, newlines bool) int {
	for i < len(src) {
		switch c := src[i]; {
		case c == ' ' || c == '\t' || c == '\r' || newlines && c == '\n':
			i++
		case c == '#' || c == '/' && i+1 < len(src) && src[i+1] == '/':
			if !newlines {
				return i
			}
			i = lineEnd(src, i)
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			i = commentEnd(src, i)
		default:
			return i
		}
	}
	return i
}

func commentEnd(src []byte, i int) int {
	if n := bytes.Index(src[i+2:], []byte("*/")); n >= 0 {
		return i + 2 + n + 2
	}
	return len(src)
}

// braceEnd returns the index just past the brace that closes the one at
// src[i], or len(src).
func braceEnd(src []byte, i int) int {
	depth := 0
	for i < len(src) {
		switch c := src[i]; {
		case c == '{':
			depth++
			i++
		case c == '}':
			depth--
			i++
			if depth == 0 {
				return i
			}
		case c == '"':
			i = stringEnd(src, i)
		case c == '#' || c == '/' && i+1 < len(src) && src[i+1] == '/':
			i = lineEnd(src, i)
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			i = commentEnd(src, i)
		case c == '<' && i+1 < len(src) && src[i+1] == '<':
			i = heredocEnd(src, i)
		default:
			i++
		}
	}
	return len(src)
}

// stringEnd returns the index just past the string that starts at src[i]:
// past its closing quote, or its line's end when it has none.
func stringEnd(src []byte, i int) int {
	i++
	for i < len(src) {
		switch c := src[i]; {
		case c == '\\':
			i += 2
		case c == '"':
			return i + 1
		case c == '\n':
			return i
		case (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == c && i+2 < len(src) && src[i+2] == '{':
			i += 3 // $${ and %%{ are literal
		case (c == '$' || c == '%') && i+1 < len(src) && src[i+1] == '{':
			i = braceEnd(src, i+1)
		default:
			i++
		}
	}
	return len(src)
}

// heredocEnd returns the index just past the heredoc that starts at
// src[i] ("<<EOF" or "<<-EOF"), or just past "<<" when it is not one.
func heredocEnd(src []byte, i int) int {
	j := i + 2
	if j < len(src) && src[j] == '-' {
		j++
	}
	k := identEnd(src, j)
	if k == j || k >= len(src) || (src[k] != '\n' && src[k] != '\r') {
		return i + 2
	}
	marker := src[j:k]
	for p := lineEnd(src, k); p < len(src); p = lineEnd(src, p) {
		if bytes.Equal(bytes.TrimSpace(src[p:lineEnd(src, p)]), marker) {
			return lineEnd(src, p)
		}
	}
	return len(src)
}
