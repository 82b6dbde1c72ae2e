//go:build ignore

// mage.go runs baton's targets with nothing installed but Go:
//
//	go run mage.go deploy
//	go run mage.go -l
//
// Two targets may be started at once: internal/magerun compiles the
// magefile under a lock per checkout.
package main

import (
	"os"

	"github.com/baton-deploy/baton/internal/magerun"
)

func main() { os.Exit(magerun.Main()) }
