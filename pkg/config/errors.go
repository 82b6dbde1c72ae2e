package config

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Problem is one thing wrong with a pipeline file, at a line of it.
type Problem struct {
	File string // the file's base name, e.g. "baton.hcl"
	Line int    // 1-based; 0 when the problem is the file as a whole
	Msg  string
}

func (p *Problem) Error() string {
	if p.Line == 0 {
		return p.File + ": " + p.Msg
	}
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
}

// Problems is every problem Load found, in the order of the file. Load
// returns it as its error, so that one run shows them all.
type Problems []*Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// problems collects the problems of one file.
type problems struct {
	file string
	list Problems
}

func (ps *problems) add(r hcl.Range, format string, args ...any) {
	ps.list = append(ps.list, &Problem{File: ps.file, Line: r.Start.Line, Msg: fmt.Sprintf(format, args...)})
}

// diags adds HCL's diagnostics, keeping only errors. allowed, when set,
// lists what a block may hold, added to HCL's "not expected here".
func (ps *problems) diags(ds hcl.Diagnostics, allowed string) {
	for _, d := range ds {
		if d.Severity != hcl.DiagError {
			continue
		}
		line := 0
		if d.Subject != nil {
			line = d.Subject.Start.Line
		}
		msg := strings.TrimSuffix(d.Summary, ".")
		if d.Detail != "" {
			msg += ": " + strings.TrimSuffix(d.Detail, ".")
		}
		if allowed != "" && (strings.HasPrefix(d.Summary, "Unsupported argument") || strings.HasPrefix(d.Summary, "Unsupported block type")) {
			msg += "; allowed here: " + allowed
		}
		ps.list = append(ps.list, &Problem{File: ps.file, Line: line, Msg: msg})
	}
}

func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	sort.SliceStable(ps.list, func(i, j int) bool { return ps.list[i].Line < ps.list[j].Line })
	return ps.list
}

func newProblems(path string) *problems { return &problems{file: filepath.Base(path)} }
