package stages

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// hostRecap is one host's line of Ansible's PLAY RECAP.
type hostRecap struct {
	Host        string `json:"host"`
	OK          int    `json:"ok"`
	Changed     int    `json:"changed"`
	Unreachable int    `json:"unreachable"`
	Failed      int    `json:"failed"`
	Skipped     int    `json:"skipped"`
	Rescued     int    `json:"rescued"`
	Ignored     int    `json:"ignored"`
}

// playRecap is the PLAY RECAP of an ansible-playbook run, sorted by host.
type playRecap []hostRecap

var recapLineRE = regexp.MustCompile(`^(\S+)\s+:\s+((?:[a-z]+=\d+\s*)+)$`)

// parseRecap reads the PLAY RECAP from ansible-playbook's output. A
// playbook with several plays prints one recap at the end; when output
// holds several (several runs), the last wins. It returns nil when there is
// no recap, as when the playbook did not parse.
func parseRecap(out []byte) playRecap {
	var recap playRecap
	in := false
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "PLAY RECAP") {
			in, recap = true, playRecap{}
			continue
		}
		if !in {
			continue
		}
		m := recapLineRE.FindStringSubmatch(line)
		if m == nil {
			if line != "" {
				in = false
			}
			continue
		}
		h := hostRecap{Host: m[1]}
		for _, kv := range strings.Fields(m[2]) {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.Atoi(v)
			if err != nil {
				continue
			}
			switch k {
			case "ok":
				h.OK = n
			case "changed":
				h.Changed = n
			case "unreachable":
				h.Unreachable = n
			case "failed":
				h.Failed = n
			case "skipped":
				h.Skipped = n
			case "rescued":
				h.Rescued = n
			case "ignored":
				h.Ignored = n
			}
		}
		recap = append(recap, h)
	}
	sort.Slice(recap, func(i, j int) bool { return recap[i].Host < recap[j].Host })
	return recap
}

// Totals adds up every host's counts.
func (r playRecap) Totals() hostRecap {
	var t hostRecap
	for _, h := range r {
		t.OK += h.OK
		t.Changed += h.Changed
		t.Unreachable += h.Unreachable
		t.Failed += h.Failed
		t.Skipped += h.Skipped
		t.Rescued += h.Rescued
		t.Ignored += h.Ignored
	}
	return t
}

// Failed names the hosts with failed tasks; Unreachable those Ansible
// could not reach.
func (r playRecap) Failed() []string {
	var out []string
	for _, h := range r {
		if h.Failed > 0 {
			out = append(out, h.Host)
		}
	}
	return out
}

// Unreachable names the hosts Ansible could not reach.
func (r playRecap) Unreachable() []string {
	var out []string
	for _, h := range r {
		if h.Unreachable > 0 {
			out = append(out, h.Host)
		}
	}
	return out
}

// String summarises the recap in one line.
func (r playRecap) String() string {
	t := r.Totals()
	hosts := fmt.Sprintf("%d hosts", len(r))
	if len(r) == 1 {
		hosts = "1 host"
	}
	return fmt.Sprintf("%s: ok=%d changed=%d unreachable=%d failed=%d", hosts, t.OK, t.Changed, t.Unreachable, t.Failed)
}
