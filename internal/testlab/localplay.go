package testlab

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// LocalTemplateID is the template the hosts of LocalInventory were
// "cloned" from.
const LocalTemplateID = 8025

// LocalInventory makes the lab's hosts look like examples/local's — each
// with a root holding the image marker Packer bakes (etc/baton-image) —
// and returns their inventory in the shape the lab's Terraform gives it,
// for examples/local/ansible/site.yml: db first, then web hosts serving on
// their own address and appPort. The web services the playbook starts are
// stopped when the test ends.
func (l *Lab) LocalInventory(t testing.TB, appPort int) []byte {
	t.Helper()
	groups := map[string]map[string]any{"db": {}, "web": {}}
	for i, h := range l.Hosts {
		root := h.LocalRoot()
		if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
			t.Fatal(err)
		}
		marker := "template_id=" + strconv.Itoa(LocalTemplateID) + "\nversion=1.0.0\n"
		if err := os.WriteFile(filepath.Join(root, "etc", "baton-image"), []byte(marker), 0o644); err != nil {
			t.Fatal(err)
		}
		g := "web"
		if i == 0 {
			g = "db"
		}
		groups[g][h.Name] = map[string]any{
			"ansible_host": h.Address, "ansible_port": h.Port, "ansible_user": "root",
			"lab_root": root, "template_id": LocalTemplateID,
		}
		t.Cleanup(func() { stopService(filepath.Join(root, "run", "web.pid"), root) })
	}
	children := map[string]any{}
	for g, hosts := range groups {
		if len(hosts) > 0 {
			children[g] = map[string]any{"hosts": hosts}
		}
	}
	inv := map[string]any{"all": map[string]any{
		"vars": map[string]any{
			"ansible_user":                 "root",
			"ansible_ssh_private_key_file": l.ClientKey,
			"ansible_ssh_common_args":      "-o UserKnownHostsFile=" + l.KnownHosts + " -o StrictHostKeyChecking=yes",
			"ansible_python_interpreter":   "/usr/bin/python3",
			"app_port":                     appPort,
		},
		"children": children,
	}}
	data, _ := json.MarshalIndent(inv, "", "  ")
	return data
}

// LocalRoot is the host's root directory in LocalInventory, its lab_root.
func (h *Host) LocalRoot() string { return filepath.Join(h.dir, "root") }

// stopService kills the process in pidfile if its command line names dir,
// so that a PID reused by another process is never killed.
func stopService(pidfile, dir string) {
	data, err := os.ReadFile(pidfile)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || !strings.Contains(string(cmdline), dir) {
		return
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
}
