package handoff

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
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

func checkAddress(h InventoryHost) error {
	if v, ok := h.Vars["ansible_host"]; ok {
		s, isString := v.(string)
		if !isString || strings.TrimSpace(s) == "" || strings.ContainsAny(s, " \t\r\n") {
			return fmt.Errorf("host %q: ansible_host must be an IP address or DNS name, got %v", h.Name, v)
		}
	}
	if v, ok := h.Vars["ansible_port"]; ok {
		if _, err := portOf(v); err != nil {
			return fmt.Errorf("host %q: %w", h.Name, err)
		}
	}
	return nil
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
// address, localhost, or a DNS name with a dot.
func isAddress(name string) bool {
	if net.ParseIP(name) != nil || name == "localhost" {
		return true
	}
	if !strings.Contains(name, ".") || len(name) > 253 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return false
			}
		}
	}
	return true
}
