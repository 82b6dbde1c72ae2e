//go:build baton_tf_v2

package stages

import (
	"fmt"
	"strings"
	"testing"
)

func TestHCLBlocks(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // blocks as type[labels]{body}, one per line, bodies trimmed
	}{
		{"labels and bodies", `
terraform {
  backend "local" {}
}
module "net" {
  source = "./net"
}
resource aws_instance web { ami = "x" }
`, "terraform[]{backend \"local\" {}}\nmodule[net]{source = \"./net\"}\nresource[aws_instance web]{ami = \"x\"}"},
		{"braces in strings, templates and comments do not count", `
locals {
  a = "}"
  b = "${ {x = "}"}.x }"
  c = "$${not a template {"
  # }
  // }
  /* } */
}
output "o" { value = 1 }
`, "locals[]{a = \"}\"\n  b = \"${ {x = \"}\"}.x }\"\n  c = \"$${not a template {\"\n  # }\n  // }\n  /* } */}\noutput[o]{value = 1}"},
		{"heredocs", `
resource "x" "y" {
  script = <<-EOT
    if { then }
    }
  EOT
}
module "m" { source = "../m" }
`, "resource[x y]{script = <<-EOT\n    if { then }\n    }\n  EOT}\nmodule[m]{source = \"../m\"}"},
		{"comments between blocks", "# module \"no\" {}\n/* terraform { */\nprovider \"p\" {}\n", "provider[p]{}"},
		{"unterminated block", "module \"m\" {\n  source = \"./m\"\n", "module[m]{source = \"./m\"}"},
		{"not blocks", "= 3\n\"x\" {\n}\nlocals = {}\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, b := range hclBlocks([]byte(tt.src)) {
				got = append(got, fmt.Sprintf("%s[%s]{%s}", b.Type, strings.Join(b.Labels, " "), strings.TrimSpace(b.Body)))
			}
			if g := strings.Join(got, "\n"); g != tt.want {
				t.Errorf("got\n%s\nwant\n%s", g, tt.want)
			}
		})
	}
}

// FuzzHCLBlocks: any input ends, and every body is a piece of it.
func FuzzHCLBlocks(f *testing.F) {
	for _, s := range []string{"module \"m\" { source = \"./m\" }", "a \"${\"{\"}\" {", "x {<<EOF\n}\nEOF\n}", "/*", "\"\\", "b { \"$${\" }"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		for _, b := range hclBlocks([]byte(src)) {
			if !strings.Contains(src, b.Body) || !strings.Contains(src, b.Type) {
				t.Fatalf("block %+v is not from the input", b)
			}
		}
	})
}
