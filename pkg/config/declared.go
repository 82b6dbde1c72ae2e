package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
)

// declared is what a Terraform or Packer configuration declares: its
// variables and outputs.
type declared struct {
	vars    map[string]bool
	outputs map[string]bool
}

var declSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	{Type: "variable", LabelNames: []string{"name"}},
	{Type: "output", LabelNames: []string{"name"}},
	{Type: "variables"}, // Packer's block form: variables { name = default }
}}

// readDeclared reads the variable and output blocks of the files matching
// patterns in path, a directory, or of path itself when it is a file.
func readDeclared(path string, patterns ...string) (*declared, error) {
	return parseDeclared(path, patterns)
}

func parseDeclared(path string, patterns []string) (*declared, error) {
	var files []string
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		for _, p := range patterns {
			m, _ := filepath.Glob(filepath.Join(path, p))
			files = append(files, m...)
		}
		sort.Strings(files)
	} else {
		files = []string{path}
	}
	d := &declared{vars: map[string]bool{}, outputs: map[string]bool{}}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(f, ".json") && !strings.HasSuffix(f, ".pkr.json") && !strings.HasSuffix(f, ".tf.json") {
			// A legacy Packer JSON template: { "variables": { … } }.
			var legacy struct {
				Variables map[string]any `json:"variables"`
			}
			if err := json.Unmarshal(src, &legacy); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
			for n := range legacy.Variables {
				d.vars[n] = true
			}
			continue
		}
		var body hcl.Body
		if strings.HasSuffix(f, ".json") {
			file, ds := hcljson.Parse(src, f)
			if ds.HasErrors() {
				return nil, ds
			}
			body = file.Body
		} else {
			file, ds := hclsyntax.ParseConfig(src, f, hcl.InitialPos)
			if ds.HasErrors() {
				return nil, ds
			}
			body = file.Body
		}
		content, _, ds := body.PartialContent(declSchema)
		if ds.HasErrors() {
			return nil, ds
		}
		for _, b := range content.Blocks {
			switch b.Type {
			case "variable":
				d.vars[b.Labels[0]] = true
			case "output":
				d.outputs[b.Labels[0]] = true
			case "variables":
				attrs, _ := b.Body.JustAttributes()
				for n := range attrs {
					d.vars[n] = true
				}
			}
		}
	}
	return d, nil
}

func terraformDeclared(dir string) (*declared, error) {
	return readDeclared(dir, "*.tf", "*.tf.json")
}

func terraformOutputs(dir string) (map[string]bool, error) {
	d, err := terraformDeclared(dir)
	if err != nil {
		return nil, err
	}
	return d.outputs, nil
}

func packerDeclared(template string) (*declared, error) {
	return readDeclared(template, "*.pkr.hcl", "*.pkr.json")
}
