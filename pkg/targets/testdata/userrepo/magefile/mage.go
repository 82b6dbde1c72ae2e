//go:build ignore

// mage.go runs the repository's Mage targets with nothing installed but Go:
//
//	go run mage.go deploy
//	go run mage.go -l
package main

import (
	"os"

	"github.com/magefile/mage/mage"
)

func main() { os.Exit(mage.Main()) }
