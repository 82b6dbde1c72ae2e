package stages

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// A Terraform state sees no drift in a host that died (a VM deleted
// behind its back, a lab sshd killed): the plan says "no changes" and the
// wait for SSH would time out. Before it plans, the stage dials the hosts
// of the inventory its state already gives; with ReplaceUnreachable it
// replaces the resources that own the dead ones, else it fails at once
// when the plan would not touch them, naming them and how to recreate
// them.

// deadProbe judges a host dead only when it stays so for a few seconds:
// a host that misses one dial is not worth replacing.
var deadProbe = pipeline.ProbeOptions{Timeout: 3 * time.Second, Attempts: 3, Interval: time.Second}

// ChecksHosts reports whether the hosts of the stage's inventory are
// dialed before it is skipped or planned (pipeline.HostChecker).
func (t *Terraform) ChecksHosts() bool { return t.CheckHosts || t.ReplaceUnreachable }

// inventoryOutput is the Output given as an Ansible inventory, if any.
func (t *Terraform) inventoryOutput() (Output, bool) {
	for _, o := range t.Outputs {
		if _, ok := o.As.(handoff.Key[*handoff.AnsibleInventory]); ok {
			return o, true
		}
	}
	return Output{}, false
}

// deadHosts dials the hosts of the inventory output the state holds now;
// none when there is no such output or no state yet.
func (r *tfRun) deadHosts(ctx context.Context) ([]pipeline.DeadHost, error) {
	o, ok := r.t.inventoryOutput()
	if !ok {
		return nil, nil
	}
	// output -json prints sensitive values too: never streamed.
	r.tf.SetStdout(io.Discard)
	r.tf.SetStderr(io.Discard)
	outs, err := r.tf.Output(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// No state yet, or one without outputs: nothing to dial.
		return nil, nil
	}
	meta, ok := outs[o.Name]
	if !ok {
		return nil, nil
	}
	inv, err := handoff.ParseInventory(meta.Value)
	if err != nil {
		return nil, nil
	}
	dead := pipeline.DeadHosts(ctx, inv, deadProbe)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return dead, nil
}

// stateResource is a managed resource instance of the state, as
// `terraform show -json` gives it.
type stateResource struct {
	Address string         `json:"address"`
	Mode    string         `json:"mode"`
	Values  map[string]any `json:"values"`
}

type stateModule struct {
	Resources    []stateResource `json:"resources"`
	ChildModules []stateModule   `json:"child_modules"`
}

// stateResources lists the managed resource instances of the state. The
// values may hold secrets: they are read, never logged.
func (r *tfRun) stateResources(ctx context.Context) ([]stateResource, error) {
	r.tf.SetStdout(io.Discard)
	r.tf.SetStderr(io.Discard)
	st, err := r.tf.Show(ctx)
	if err != nil {
		return nil, fmt.Errorf("terraform show: %w", err)
	}
	if st == nil || st.Values == nil {
		return nil, nil
	}
	raw, err := json.Marshal(st.Values.RootModule)
	if err != nil {
		return nil, err
	}
	var root stateModule
	if err := json.Unmarshal(raw, &root); err != nil {
		return nil, err
	}
	var all []stateResource
	var walk func(m stateModule)
	walk = func(m stateModule) {
		for _, res := range m.Resources {
			if res.Mode == "managed" {
				all = append(all, res)
			}
		}
		for _, c := range m.ChildModules {
			walk(c)
		}
	}
	walk(root)
	return all, nil
}

// hostOwners finds, for each dead host, the resource instances that make
// it: those whose address names the host (proxmox_vm_qemu.vm["web-1"]),
// else the one resource whose attributes hold its address as a value
// (terraform_data.host[0] with input.address = "127.0.0.11"), else the one
// that holds its name. A host that several resources hold by value is
// returned in unsure with the reason: baton never guesses which resource
// to replace. A host no resource holds is an orphan: the inventory output
// names a host the state has no resource for (an apply interrupted before
// it was made), so the plan creates it and nothing needs replacing.
func hostOwners(dead []pipeline.DeadHost, resources []stateResource) (owners []string, orphans []pipeline.DeadHost, unsure []string) {
	seen := map[string]bool{}
	add := func(addrs ...string) {
		for _, a := range addrs {
			if !seen[a] {
				seen[a] = true
				owners = append(owners, a)
			}
		}
	}
	for _, d := range dead {
		ip, _, err := net.SplitHostPort(d.Addr)
		if err != nil {
			ip = d.Addr
		}
		var byName, byAddr, byValue []string
		for _, res := range resources {
			if slices.Contains(addressNames(res.Address), d.Name) {
				byName = append(byName, res.Address)
				continue
			}
			switch {
			case holdsValue(res.Values, ip):
				byAddr = append(byAddr, res.Address)
			case holdsValue(res.Values, d.Name):
				byValue = append(byValue, res.Address)
			}
		}
		switch {
		case len(byName) > 0:
			add(byName...)
		case len(byAddr) == 1:
			add(byAddr...)
		case len(byAddr) > 1:
			unsure = append(unsure, fmt.Sprintf("%s: several resources hold its address %s (%s)", d.Name, ip, strings.Join(byAddr, ", ")))
		case len(byValue) == 1:
			add(byValue...)
		case len(byValue) > 1:
			unsure = append(unsure, fmt.Sprintf("%s: several resources hold its name (%s)", d.Name, strings.Join(byValue, ", ")))
		default:
			orphans = append(orphans, d)
		}
	}
	sort.Strings(owners)
	return owners, orphans, unsure
}

// holdsValue reports whether some string in v equals s, or is an
// "ip=10.0.0.5/24,gw=…"-style list with s as one of its items.
func holdsValue(v any, s string) bool {
	switch v := v.(type) {
	case string:
		if v == s {
			return true
		}
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '=' || r == '/' || r == ';' }) {
			if f == s {
				return true
			}
		}
	case map[string]any:
		for _, x := range v {
			if holdsValue(x, s) {
				return true
			}
		}
	case []any:
		for _, x := range v {
			if holdsValue(x, s) {
				return true
			}
		}
	}
	return false
}

// DeadHostsError is a Terraform stage's refusal to go on with hosts that
// do not answer and a plan that would not bring them back.
type DeadHostsError struct {
	Stage  string
	Dir    string
	Dead   []pipeline.DeadHost
	Owners []string // the resources to replace, when found
	// Changes is set when the plan has changes, none of which touch
	// Owners: nothing of it was applied.
	Changes bool
}

func (e *DeadHostsError) Error() string {
	var b strings.Builder
	sees := "Terraform sees nothing to change"
	if e.Changes {
		sees = "the plan changes other things but does not replace what makes them, and nothing of it was applied"
	}
	fmt.Fprintf(&b, "terraform: %d of the hosts this configuration made do not answer SSH: %s; %s, so the wait for SSH would fail.\n",
		len(e.Dead), pipeline.DeadHostList(e.Dead), sees)
	label := e.Stage
	if kind, name, ok := strings.Cut(e.Stage, "."); ok {
		label = fmt.Sprintf("%s %q", kind, name)
	}
	fmt.Fprintf(&b, "To recreate them: set replace_unreachable = true in the %s block of baton.hcl and deploy again", label)
	if len(e.Owners) > 0 {
		fmt.Fprintf(&b, " (baton will replace %s)", strings.Join(e.Owners, ", "))
		fmt.Fprintf(&b, ", or replace them yourself in %s: terraform apply", e.Dir)
		for _, o := range e.Owners {
			fmt.Fprintf(&b, " -replace=%s", shellQuote([]string{o}))
		}
		b.WriteString(" with the stage's variables")
	}
	b.WriteString("; or bring the hosts back up and deploy again.")
	return b.String()
}

// replaceOptions adds -replace for each address to a plan.
func replaceOptions(opts []tfexec.PlanOption, args []string, addrs []string) ([]tfexec.PlanOption, []string) {
	for _, a := range addrs {
		opts = append(opts, tfexec.Replace(a))
		args = append(args, "-replace="+a)
	}
	return opts, args
}

// unreachable is what the run does about dead hosts before it plans: the
// resources to replace (ReplaceUnreachable), and the dead hosts left for
// the plan to judge.
func (r *tfRun) unreachable(ctx context.Context) (replace []string, dead []pipeline.DeadHost, err error) {
	if !r.t.ChecksHosts() {
		return nil, nil, nil
	}
	dead, err = r.deadHosts(ctx)
	if err != nil || len(dead) == 0 {
		return nil, nil, err
	}
	r.j.Printf("hosts that do not answer SSH: %s", pipeline.DeadHostList(dead))
	if !r.t.ReplaceUnreachable {
		return nil, dead, nil
	}
	resources, err := r.stateResources(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("terraform: hosts %s do not answer, and the state cannot be read to find what makes them: %w", pipeline.DeadHostList(dead), err)
	}
	owners, orphans, unsure := hostOwners(dead, resources)
	if len(unsure) > 0 {
		return nil, nil, fmt.Errorf("terraform: replace_unreachable cannot tell which resource makes each dead host — %s: replace the right ones yourself in %s (terraform apply -replace=ADDRESS with the stage's variables), or name each host in its resource's key (for_each)",
			strings.Join(unsure, "; "), r.t.Dir)
	}
	if len(owners) > 0 {
		r.j.Printf("replace_unreachable: replacing %s", strings.Join(owners, ", "))
	}
	if len(orphans) > 0 {
		// Left for the plan: it creates what the state lacks, and a plan
		// with no changes fails naming them.
		r.j.Printf("no resource of the state makes %s yet: the plan should create it", pipeline.DeadHostList(orphans))
	}
	return owners, orphans, nil
}

// deadError is the refusal for hosts still dead after a plan with no
// changes; it names the resources that make them when it can tell.
func (r *tfRun) deadError(ctx context.Context, dead []pipeline.DeadHost) error {
	e := &DeadHostsError{Stage: r.t.Name(), Dir: r.t.Dir, Dead: dead}
	if resources, err := r.stateResources(ctx); err == nil {
		if owners, _, unsure := hostOwners(dead, resources); len(unsure) == 0 {
			e.Owners = owners
		}
	}
	return e
}

// deadUntouched refuses a plan with changes that leaves dead hosts dead:
// the wait for SSH would fail only after the apply, and after its own
// timeout. When it cannot tell what makes a host (the plan or the state
// unreadable, no single resource that holds it, a host the state has no
// resource for, which the plan may create), it warns and lets the apply
// go on.
func (r *tfRun) deadUntouched(ctx context.Context, dead []pipeline.DeadHost, pl planned, readable bool) error {
	warn := func() {
		r.j.Printf("warning: this plan may not recreate the hosts that do not answer SSH; replace_unreachable = true would replace what makes them")
	}
	if !readable {
		warn()
		return nil
	}
	resources, err := r.stateResources(ctx)
	if err != nil {
		warn()
		return nil
	}
	owners, orphans, unsure := hostOwners(dead, resources)
	if len(unsure) > 0 || len(orphans) > 0 || len(owners) == 0 {
		warn()
		return nil
	}
	if slices.ContainsFunc(owners, func(o string) bool { return !pl.touches(o) }) {
		return &DeadHostsError{Stage: r.t.Name(), Dir: r.t.Dir, Dead: dead, Owners: owners, Changes: true}
	}
	r.j.Printf("the plan replaces what makes the hosts that do not answer SSH: %s", strings.Join(owners, ", "))
	return nil
}
