package stages

import (
	"errors"
	"strings"
	"testing"

	"github.com/baton-deploy/baton/pkg/pipeline"
)

func TestHostOwnersFindsWhatMakesEachDeadHost(t *testing.T) {
	lab := []stateResource{
		{Address: "terraform_data.host[0]", Mode: "managed", Values: map[string]any{"input": map[string]any{"name": "db-1", "address": "127.0.0.11"}}},
		{Address: "terraform_data.host[1]", Mode: "managed", Values: map[string]any{"input": map[string]any{"name": "web-1", "address": "127.0.0.12"}}},
	}
	proxmox := []stateResource{
		{Address: `proxmox_vm_qemu.vm["web-1"]`, Mode: "managed", Values: map[string]any{"ipconfig0": "ip=10.0.0.5/24,gw=10.0.0.1"}},
		{Address: `proxmox_vm_qemu.vm["web-2"]`, Mode: "managed", Values: map[string]any{"ipconfig0": "ip=10.0.0.50/24,gw=10.0.0.1"}},
		{Address: "dns_a_record.all", Mode: "managed", Values: map[string]any{"addresses": []any{"10.0.0.5", "10.0.0.50"}}},
	}
	byIP := []stateResource{
		{Address: "proxmox_vm_qemu.a", Mode: "managed", Values: map[string]any{"ipconfig0": "ip=10.0.0.5/24,gw=10.0.0.1"}},
		{Address: "proxmox_vm_qemu.b", Mode: "managed", Values: map[string]any{"ipconfig0": "ip=10.0.0.50/24,gw=10.0.0.1"}},
	}
	dead := func(name, addr string) pipeline.DeadHost {
		return pipeline.DeadHost{Name: name, Addr: addr, Err: errors.New("connection refused")}
	}
	for _, tc := range []struct {
		name       string
		dead       []pipeline.DeadHost
		state      []stateResource
		want       string
		wantOrphan string
		wantUnsure string
	}{
		{"count-indexed lab host, by address", []pipeline.DeadHost{dead("web-1", "127.0.0.12:2222")}, lab, "terraform_data.host[1]", "", ""},
		{"two lab hosts", []pipeline.DeadHost{dead("web-1", "127.0.0.12:2222"), dead("db-1", "127.0.0.11:2222")}, lab, "terraform_data.host[0] terraform_data.host[1]", "", ""},
		{"for_each key names the host, not the DNS record", []pipeline.DeadHost{dead("web-1", "10.0.0.5:22")}, proxmox, `proxmox_vm_qemu.vm["web-1"]`, "", ""},
		{"address inside a list value, not a prefix of another", []pipeline.DeadHost{dead("a", "10.0.0.5:22")}, byIP, "proxmox_vm_qemu.a", "", ""},
		{"two resources hold the address: no guess", []pipeline.DeadHost{dead("x", "10.0.0.5:22")}, proxmox, "", "", "several resources hold its address 10.0.0.5"},
		{"nothing holds it", []pipeline.DeadHost{dead("gone", "10.9.9.9:22")}, lab, "", "gone", ""},
		{"one made, one the interrupted apply never made", []pipeline.DeadHost{dead("web-1", "127.0.0.12:2222"), dead("web-2", "127.0.0.13:2222")}, lab, "terraform_data.host[1]", "web-2", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			owners, orphans, unsure := hostOwners(tc.dead, tc.state)
			if got := strings.Join(owners, " "); got != tc.want {
				t.Errorf("owners = %q, want %q", got, tc.want)
			}
			var names []string
			for _, o := range orphans {
				names = append(names, o.Name)
			}
			if got := strings.Join(names, " "); got != tc.wantOrphan {
				t.Errorf("orphans = %q, want %q", got, tc.wantOrphan)
			}
			if got := strings.Join(unsure, "; "); tc.wantUnsure == "" && got != "" || !strings.Contains(got, tc.wantUnsure) {
				t.Errorf("unsure = %q, want %q", got, tc.wantUnsure)
			}
		})
	}
}

func TestDeadHostsErrorSaysHowToRecreateThem(t *testing.T) {
	e := &DeadHostsError{Stage: "terraform.hosts", Dir: "/lab/terraform",
		Dead:   []pipeline.DeadHost{{Name: "db-1", Addr: "127.0.0.11:2222", Err: errors.New("connect: connection refused")}},
		Owners: []string{"terraform_data.host[0]"}}
	msg := e.Error()
	for _, want := range []string{
		"db-1 (127.0.0.11:2222: connect: connection refused)",
		`set replace_unreachable = true in the terraform "hosts" block of baton.hcl`,
		"terraform apply -replace='terraform_data.host[0]'",
		"/lab/terraform",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("message does not say %q:\n%s", want, msg)
		}
	}
	if !strings.Contains(msg, "Terraform sees nothing to change") {
		t.Errorf("a no-change plan's message does not say so:\n%s", msg)
	}
	e.Changes = true
	if msg := e.Error(); !strings.Contains(msg, "the plan changes other things but does not replace what makes them, and nothing of it was applied") || strings.Contains(msg, "nothing to change") {
		t.Errorf("a plan with other changes:\n%s", msg)
	}
}

func TestPlannedTouches(t *testing.T) {
	pl := planned{created: []string{"terraform_data.host[1]"}, deleted: []string{"terraform_data.host[2]"}}
	for addr, want := range map[string]bool{"terraform_data.host[1]": true, "terraform_data.host[2]": true, "terraform_data.host[0]": false} {
		if got := pl.touches(addr); got != want {
			t.Errorf("touches(%s) = %v, want %v", addr, got, want)
		}
	}
}
