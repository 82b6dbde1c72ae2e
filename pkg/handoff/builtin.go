package handoff

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/baton-deploy/baton/internal/regularfile"
)

// The range of a Proxmox VMID, which is what a template ID is.
const (
	MinTemplateID = 100
	MaxTemplateID = 999999999
)

// Built-in handoffs of the Packer → Terraform → Ansible pipeline.
var (
	// TemplateID is the golden image Packer built, as a Proxmox VMID.
	TemplateID = NewTemplateID("template_id")
	// Inventory is the Ansible inventory Terraform's output describes.
	Inventory = NewInventory("inventory")
)

// NewTemplateID returns a key for a template ID: an integer in Proxmox's VMID
// range, [MinTemplateID, MaxTemplateID]. Its text form is the decimal number.
func NewTemplateID(name string) Key[int] {
	return newKey(name, fmt.Sprintf("a template ID: an integer from %d to %d, e.g. 8025", MinTemplateID, MaxTemplateID), key[int]{
		decode: func(raw []byte) (int, error) {
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return 0, fmt.Errorf("not JSON: %w", err)
			}
			switch v := v.(type) {
			case float64:
				return parseTemplateID(strings.TrimSpace(string(raw)))
			case string:
				return parseTemplateID(v)
			default:
				return 0, fmt.Errorf("%s is not a template ID: want an integer from %d to %d", truncate(string(raw)), MinTemplateID, MaxTemplateID)
			}
		},
		encode: func(v int) ([]byte, error) {
			if err := checkTemplateID(v); err != nil {
				return nil, err
			}
			return []byte(strconv.Itoa(v)), nil
		},
		parseText: parseTemplateID,
		display:   strconv.Itoa,
	})
}

// parseTemplateID parses the text form of a template ID strictly: decimal
// digits only, with no sign, space or leading zero, so that what a user
// typed is exactly what is recorded and compared (" 8025" and "+8025" are
// refused, not silently taken as 8025).
func parseTemplateID(s string) (int, error) {
	want := fmt.Sprintf("want an integer from %d to %d written in digits only, e.g. 8025", MinTemplateID, MaxTemplateID)
	if s == "" {
		return 0, fmt.Errorf(`"" is not a template ID: %s`, want)
	}
	q := strconv.Quote(s)
	if len(s) > 80 {
		q = strconv.Quote(truncate(s))
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			return 0, fmt.Errorf("%s is not a template ID: it has spaces; %s", q, want)
		case (c == '+' || c == '-') && i == 0:
			return 0, fmt.Errorf("%s is not a template ID: it has a sign; %s", q, want)
		case c < '0' || c > '9':
			return 0, fmt.Errorf("%s is not a template ID: %s", q, want)
		}
	}
	if s[0] == '0' {
		return 0, fmt.Errorf("%s is not a template ID: it has a leading zero; %s", q, want)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < MinTemplateID || n > MaxTemplateID {
		return 0, fmt.Errorf("%s is out of range: a template ID is a Proxmox VMID from %d to %d", truncate(s), MinTemplateID, MaxTemplateID)
	}
	return int(n), nil
}

func checkTemplateID(v int) error {
	if v < MinTemplateID || v > MaxTemplateID {
		return fmt.Errorf("%d is out of range: a template ID is a Proxmox VMID from %d to %d", v, MinTemplateID, MaxTemplateID)
	}
	return nil
}

// NewInventory returns a key for an Ansible inventory. Its value accepts
// both shapes Terraform configs produce (see [ParseInventory]) and is kept in
// the normalised static shape; its text form is the path of an inventory
// file in JSON or YAML.
func NewInventory(name string) Key[*AnsibleInventory] {
	return newKey(name, "the path of an Ansible inventory file (.json, .yml or .yaml)", key[*AnsibleInventory]{
		decode: ParseInventory,
		encode: func(v *AnsibleInventory) ([]byte, error) {
			if v == nil {
				return nil, errors.New("nil inventory")
			}
			return v.MarshalJSON()
		},
		parseText: func(path string) (*AnsibleInventory, error) {
			data, err := readValueFile(path, "an Ansible inventory")
			if err != nil {
				return nil, err
			}
			inv, err := ParseInventory(data)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			return inv, nil
		},
		display: func(v *AnsibleInventory) string {
			hosts := v.Hosts()
			names := make([]string, 0, len(hosts))
			for _, h := range hosts {
				names = append(names, h.Name)
			}
			s := fmt.Sprintf("%d hosts", len(hosts))
			if len(hosts) == 1 {
				s = "1 host"
			}
			return s + " (" + truncate(strings.Join(names, ", ")) + ")"
		},
	})
}

// NewString returns a key for a string value; its text form is the string.
func NewString(name string) Key[string] {
	return newKey(name, "a string", key[string]{
		decode: func(raw []byte) (string, error) {
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return "", fmt.Errorf("%s is not a JSON string", truncate(string(raw)))
			}
			return s, nil
		},
		encode:    func(v string) ([]byte, error) { return json.Marshal(v) },
		parseText: func(text string) (string, error) { return text, nil },
		display:   func(v string) string { return strconv.Quote(truncate(v)) },
	})
}

// NewJSON returns a key for any JSON value of type T, checked by validate
// when it is not nil. Its text form is inline JSON when it starts with '{'
// or '[', else the path of a JSON file.
func NewJSON[T any](name string, validate func(T) error) Key[T] {
	check := func(v T) error {
		if validate == nil {
			return nil
		}
		return validate(v)
	}
	decode := func(raw []byte) (T, error) {
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return v, fmt.Errorf("not a valid value: %w", err)
		}
		return v, check(v)
	}
	return newKey(name, "JSON, inline or in a file", key[T]{
		decode: decode,
		encode: func(v T) ([]byte, error) {
			if err := check(v); err != nil {
				return nil, err
			}
			return json.Marshal(v)
		},
		parseText: func(text string) (T, error) {
			t := strings.TrimSpace(text)
			if strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
				return decode([]byte(t))
			}
			data, err := readValueFile(text, "JSON")
			if err != nil {
				var zero T
				return zero, err
			}
			v, err := decode(data)
			if err != nil {
				return v, fmt.Errorf("%s: %w", text, err)
			}
			return v, nil
		},
		display: func(v T) string {
			b, err := json.Marshal(v)
			if err != nil {
				return "(unprintable)"
			}
			return truncate(string(b))
		},
	})
}

// MaxValueFile bounds what a handoff read from a file may weigh:
// inventories of thousands of hosts stay far below it, and a device or an
// endless file cannot make baton read forever.
const MaxValueFile = 16 << 20

// readValueFile reads the regular file at path, of at most MaxValueFile
// bytes, that holds what (e.g. "an Ansible inventory").
func readValueFile(path, what string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("no file given: want the path of %s", what)
	}
	data, err := regularfile.Read(path, MaxValueFile)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("file %s does not exist: want the path of %s", path, what)
	case errors.Is(err, regularfile.ErrNotRegular):
		return nil, fmt.Errorf("%w: want the path of a regular file that holds %s", err, what)
	case err != nil:
		return nil, err
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%s is empty: want %s", path, what)
	}
	return data, nil
}

// truncate keeps text in error messages and displays to one readable line.
func truncate(s string) string {
	const max = 80
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= max {
		return s
	}
	cut := max - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
