package handoff

import (
	"strings"
	"testing"
)

func TestValidAddress(t *testing.T) {
	for _, addr := range []string{
		"10.0.0.5", "127.0.0.11", "::1", "2001:db8::5", "fe80::1%eth0",
		"localhost", "web-1", "web-1.example.com", "web-1.example.com.", "a1.b2", "xn--bcher-kva.example",
	} {
		if err := ValidAddress(addr); err != nil {
			t.Errorf("ValidAddress(%q) = %v, want nil", addr, err)
		}
	}
	for _, tc := range []struct{ addr, want string }{
		{"", "empty"},
		{"-oProxyCommand=touch /tmp/pwned", "starts with '-'"},
		{"-p2222", "starts with '-'"},
		{"web;rm -rf ~", `has ';'`},
		{"$(id).example.com", `has '$'`},
		{"`id`", "has '`'"},
		{"web example.com", `has ' '`},
		{"web\n.example.com", `has '\n'`},
		{"host|nc", `has '|'`},
		{"user@host", `has '@'`},
		{"[::1]", "without brackets"},
		{"fe80::1%eth0;id", "zone"},
		{"10.0.0.256", "all digits"},
		{"1.2.3", "all digits"},
		{"a..b", "empty label"},
		{".example.com", "empty label"},
		{"web-.example.com", "starts or ends with '-'"},
		{"web_1.example.com", `has '_'`},
		{"{{ inventory_hostname }}", `has '{'`},
		{strings.Repeat("a", 64) + ".example.com", "longer than 63"},
		{strings.Repeat("a.", 127) + "ab", "at most 253"},
	} {
		err := ValidAddress(tc.addr)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ValidAddress(%q) = %v, want an error saying %q", tc.addr, err, tc.want)
		}
	}
}

// Addresses shaped like ssh options or shell syntax never reach ssh: the
// inventory is refused with the host's name.
func TestParseInventoryRefusesHostileAddresses(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"ssh option as ansible_host", `{"web": {"hosts": {"web-1": {"ansible_host": "-oProxyCommand=touch /tmp/x"}}}}`, []string{`host "web-1"`, "ansible_host", "starts with '-'"}},
		{"shell in ansible_host", `{"web": {"hosts": {"web-1": {"ansible_host": "10.0.0.1;id"}}}}`, []string{`host "web-1"`, "ansible_host", "not an IP address or DNS host name"}},
		{"shell in ansible_ssh_host", `{"web": {"hosts": {"web-1": {"ansible_ssh_host": "$(id)"}}}}`, []string{`host "web-1"`, "ansible_ssh_host"}},
		{"ssh option as host name", `{"web": {"hosts": {"-oProxyCommand=id": {}}}}`, []string{`host "-oProxyCommand=id"`, "cannot start with '-'"}},
		{"ssh option as listed host", `{"web": ["-oProxyCommand=id"]}`, []string{`host "-oProxyCommand=id"`, "cannot start with '-'"}},
		{"option as user", `{"web": {"hosts": {"10.0.0.1": {"ansible_user": "-oProxyCommand=id"}}}}`, []string{`host "10.0.0.1"`, "ansible_user"}},
		{"shell in name, no address", `{"web": {"hosts": {"a;id.example.com": {}}}}`, []string{`host "a;id.example.com"`, "no address"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseInventory([]byte(tc.in))
			if err == nil {
				t.Fatalf("no error for %s", tc.in)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// A host name that is not used as an address may be any Ansible name.
func TestInventoryNamesNeedNotBeAddresses(t *testing.T) {
	inv, err := ParseInventory([]byte(`{"web": {"hosts": {"web_1@blue": {"ansible_host": "10.0.0.1"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if h := inv.Hosts()[0]; h.Address != "10.0.0.1" {
		t.Errorf("address %q, want ansible_host's", h.Address)
	}
}
