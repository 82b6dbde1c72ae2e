package handoff

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"
)

func checkGroupName(name string) error {
	if strings.TrimSpace(name) == "" {
		return errors.New("a group has an empty name")
	}
	if strings.ContainsAny(name, " \t\r\n[],:") {
		return fmt.Errorf("group %q: a group name has no spaces, brackets, commas or colons", name)
	}
	return nil
}

func checkHostName(group, host string) error {
	if strings.TrimSpace(host) == "" {
		return fmt.Errorf("group %q: a host has an empty name", group)
	}
	if strings.HasPrefix(host, "-") {
		return fmt.Errorf("group %q: host %q: a host name cannot start with '-', which ssh and Ansible would take for an option", group, host)
	}
	if strings.ContainsAny(host, " \t\r\n,") {
		return fmt.Errorf("group %q: host %q: a host name has no spaces or commas", group, host)
	}
	if strings.ContainsAny(host, "[]") {
		return fmt.Errorf("group %q: host %q: host ranges are not supported here: list each host", group, host)
	}
	if strings.Contains(host, ":") && net.ParseIP(host) == nil {
		return fmt.Errorf("group %q: host %q: put the port in ansible_port, not in the name", group, host)
	}
	return nil
}

// addressVars are the vars Ansible connects to a host by.
var addressVars = []string{"ansible_host", "ansible_ssh_host"}

// checkAddress checks the vars by which a host is reached: its address vars
// are strict addresses (see [ValidAddress]), its port a port, its user a
// plain name.
func checkAddress(h InventoryHost) error {
	for _, key := range addressVars {
		v, ok := h.Vars[key]
		if !ok {
			continue
		}
		s, isString := v.(string)
		if !isString {
			return fmt.Errorf("host %q: %s must be an IP address or DNS host name, got %v", h.Name, key, v)
		}
		if err := ValidAddress(s); err != nil {
			return fmt.Errorf("host %q: %s: %w", h.Name, key, err)
		}
	}
	if v, ok := h.Vars["ansible_port"]; ok {
		if _, err := portOf(v); err != nil {
			return fmt.Errorf("host %q: %w", h.Name, err)
		}
	}
	if v, ok := h.Vars["ansible_user"]; ok {
		s, isString := v.(string)
		if !isString || s == "" || s[0] == '-' || strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			return fmt.Errorf("host %q: ansible_user must be a user name (no spaces or control characters, not starting with '-'), got %q", h.Name, fmt.Sprint(v))
		}
	}
	return nil
}

// ValidAddress reports whether addr can be handed to ssh and to the wait
// stage as a host's address: an IP address (IPv6 without brackets,
// optionally with a %zone of letters, digits, '_', '.' and '-'), or a DNS
// host name of RFC 1123 labels — letters, digits and '-', 1 to 63 each, not
// starting or ending with '-', 253 characters in all, an optional final
// dot. Anything else — "-oProxyCommand=…", shell syntax, spaces — is
// refused, with what is wrong.
func ValidAddress(addr string) error {
	if addr == "" {
		return errors.New("the address is empty: want an IP address or DNS host name")
	}
	if ip, err := netip.ParseAddr(addr); err == nil {
		if z := ip.Zone(); z != "" && strings.IndexFunc(z, func(r rune) bool { return !isLDH(r) && r != '_' && r != '.' }) >= 0 {
			return fmt.Errorf("%q: the IPv6 zone %q has characters a zone does not have", truncate(addr), z)
		}
		return nil
	}
	bad := func(why string) error {
		return fmt.Errorf("%q is not an IP address or DNS host name: %s", truncate(addr), why)
	}
	if addr[0] == '-' {
		return bad("it starts with '-', which ssh would take for an option")
	}
	if strings.HasPrefix(addr, "[") {
		return bad("write an IPv6 address without brackets, and its port in ansible_port")
	}
	name := strings.TrimSuffix(addr, ".")
	if len(name) > 253 {
		return bad("a host name has at most 253 characters")
	}
	labels := strings.Split(name, ".")
	for _, label := range labels {
		switch {
		case label == "":
			return bad("it has an empty label (two dots, or a dot at the start)")
		case len(label) > 63:
			return bad(fmt.Sprintf("label %q is longer than 63 characters", truncate(label)))
		case label[0] == '-' || label[len(label)-1] == '-':
			return bad(fmt.Sprintf("label %q starts or ends with '-'", label))
		}
		if i := strings.IndexFunc(label, func(r rune) bool { return !isLDH(r) }); i >= 0 {
			r, _ := utf8.DecodeRuneInString(label[i:])
			return bad(fmt.Sprintf("it has %q: a host name has only letters, digits, '-' and dots", r))
		}
	}
	if last := labels[len(labels)-1]; strings.Trim(last, "0123456789") == "" {
		return bad("it is all digits and dots but not an IP address")
	}
	return nil
}

// isLDH reports whether r is a letter, digit or hyphen in ASCII.
func isLDH(r rune) bool {
	return r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}

func portOf(v any) (int, error) {
	var n int
	switch v := v.(type) {
	case nil:
		return 0, nil
	case int:
		n = v
	case float64:
		n = int(v)
		if float64(n) != v {
			n = -1
		}
	case string:
		var err error
		if n, err = strconv.Atoi(strings.TrimSpace(v)); err != nil {
			n = -1
		}
	default:
		n = -1
	}
	if n < 1 || n > 65535 {
		return 0, fmt.Errorf("ansible_port must be a port from 1 to 65535, got %v", v)
	}
	return n, nil
}

// isAddress reports whether a host name can be connected to as it is: an IP
// address, localhost, or a DNS host name with a dot.
func isAddress(name string) bool {
	if ValidAddress(name) != nil {
		return false
	}
	_, err := netip.ParseAddr(name)
	return err == nil || name == "localhost" || strings.Contains(strings.TrimSuffix(name, "."), ".")
}
