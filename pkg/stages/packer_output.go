package stages

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// packerArtifact is one artifact a Packer build reported.
type packerArtifact struct {
	// Build is the build's name, as Packer prints it: "proxmox-iso.ubuntu".
	Build string
	// Index numbers the build's artifacts from 0 (a post-processor adds one).
	Index     int
	BuilderID string
	// ID is the artifact's ID; for the proxmox builders, the template's VMID.
	ID     string
	String string
}

// machineOutput is what `packer build -machine-readable` reported.
type machineOutput struct {
	Artifacts []packerArtifact
	// Errors holds the messages of "error" lines, in order.
	Errors []string
}

// parseMachineReadable reads Packer's machine-readable output: lines of
// timestamp,target,type,data… with commas in data written as
// %!(PACKER_COMMA). Lines that are not in that form are ignored, as Packer
// itself may print some.
func parseMachineReadable(out []byte) (*machineOutput, error) {
	res := &machineOutput{}
	byKey := map[string]*packerArtifact{}
	var order []string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		if len(f) < 3 {
			continue
		}
		if _, err := strconv.ParseInt(f[0], 10, 64); err != nil {
			continue
		}
		target, typ, data := f[1], f[2], f[3:]
		for i := range data {
			data[i] = unescapeMachine(data[i])
		}
		switch typ {
		case "error":
			if len(data) > 0 {
				res.Errors = append(res.Errors, strings.Join(data, ","))
			}
		case "ui":
			if len(data) >= 2 && data[0] == "error" {
				res.Errors = append(res.Errors, strings.TrimSpace(data[1]))
			}
		case "artifact":
			if len(data) < 2 {
				continue
			}
			idx, err := strconv.Atoi(data[0])
			if err != nil || idx < 0 {
				return nil, fmt.Errorf("packer machine-readable output: artifact line for %q has index %q, want a number", target, data[0])
			}
			key := target + "\x00" + data[0]
			a := byKey[key]
			if a == nil {
				a = &packerArtifact{Build: target, Index: idx}
				byKey[key] = a
				order = append(order, key)
			}
			val := ""
			if len(data) > 2 {
				val = data[2]
			}
			switch data[1] {
			case "builder-id":
				a.BuilderID = val
			case "id":
				a.ID = val
			case "string":
				a.String = val
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("packer machine-readable output: %w", err)
	}
	for _, k := range order {
		res.Artifacts = append(res.Artifacts, *byKey[k])
	}
	return res, nil
}

func unescapeMachine(s string) string {
	s = strings.ReplaceAll(s, "%!(PACKER_COMMA)", ",")
	s = strings.ReplaceAll(s, `\n`, "\n")
	return strings.ReplaceAll(s, `\r`, "\r")
}

// humanLine turns one machine-readable line into what Packer would have
// shown a person, or drops it.
func humanLine(line string) (string, bool) {
	f := strings.SplitN(line, ",", 5)
	if len(f) < 4 {
		return line, strings.TrimSpace(line) != ""
	}
	if _, err := strconv.ParseInt(f[0], 10, 64); err != nil {
		return line, true
	}
	if f[2] == "ui" && len(f) == 5 {
		msg := strings.TrimRight(unescapeMachine(f[4]), "\n")
		msg = strings.TrimLeft(msg, "\n")
		return msg, msg != ""
	}
	return "", false
}

// packerManifest is the file Packer's manifest post-processor writes.
type packerManifest struct {
	Builds      []manifestBuild `json:"builds"`
	LastRunUUID string          `json:"last_run_uuid"`
}

// manifestBuild is one build recorded in a manifest.
type manifestBuild struct {
	Name          string            `json:"name"`
	BuilderType   string            `json:"builder_type"`
	BuildTime     int64             `json:"build_time"`
	ArtifactID    string            `json:"artifact_id"`
	PackerRunUUID string            `json:"packer_run_uuid"`
	CustomData    map[string]string `json:"custom_data"`
}

// FullName is the build's name as the machine-readable output gives it.
func (b manifestBuild) FullName() string {
	if b.BuilderType == "" {
		return b.Name
	}
	return b.BuilderType + "." + b.Name
}

// parseManifest reads a Packer manifest.
func parseManifest(data []byte) (*packerManifest, error) {
	var m packerManifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("not a Packer manifest: %w", err)
	}
	return &m, nil
}

// LastRun returns the builds of the manifest's last run: a manifest keeps
// every run's builds, and only those whose packer_run_uuid equals
// last_run_uuid were made by the latest `packer build`.
func (m *packerManifest) LastRun() []manifestBuild {
	var out []manifestBuild
	for _, b := range m.Builds {
		if m.LastRunUUID != "" && b.PackerRunUUID == m.LastRunUUID {
			out = append(out, b)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].FullName() < out[j].FullName() })
	return out
}
