//go:build mage

// The repository's Mage targets: baton's deploy, plan, validate, rollback,
// destroy, stage <address>, … over the baton.hcl beside this file.
package main

import (
	//mage:import
	_ "github.com/baton-deploy/baton/pkg/targets"
)
