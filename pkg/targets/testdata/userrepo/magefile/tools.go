//go:build tools

// Package tools keeps Mage in go.mod: mage.go is built only by
// `go run mage.go`, under the ignore tag that `go mod tidy` skips.
package tools

import _ "github.com/magefile/mage/mage"
