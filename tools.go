//go:build tools

// Package tools keeps the module's build tools in go.mod: mage.go (built
// only by `go run mage.go`, under the ignore tag that `go mod tidy` skips)
// needs github.com/magefile/mage.
package tools

import _ "github.com/magefile/mage/mage"
