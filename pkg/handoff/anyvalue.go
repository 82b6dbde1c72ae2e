package handoff

import (
	"encoding/json"
	"strings"
)

// NewValue returns a key for any JSON value, such as a Terraform output
// of any type. Its text form is JSON when the text parses as JSON, and
// else the text itself as a string, so that BATON_…=10.0.0.5 and
// BATON_…='["a","b"]' both work.
func NewValue(name string) Key[any] {
	return newKey(name, "a value: text, or JSON", key[any]{
		decode: func(raw []byte) (any, error) {
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return nil, err
			}
			return v, nil
		},
		encode: func(v any) ([]byte, error) { return json.Marshal(v) },
		parseText: func(text string) (any, error) {
			var v any
			if t := strings.TrimSpace(text); t != "" && json.Unmarshal([]byte(t), &v) == nil {
				return v, nil
			}
			return text, nil
		},
		display: func(v any) string {
			if s, ok := v.(string); ok {
				return truncate(s)
			}
			b, err := json.Marshal(v)
			if err != nil {
				return "(unprintable)"
			}
			return truncate(string(b))
		},
	})
}
