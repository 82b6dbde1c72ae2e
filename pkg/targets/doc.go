// Package targets holds baton's Mage targets. Import it into a magefile
// with
//
//	//mage:import
//	_ "github.com/baton-deploy/baton/pkg/targets"
//
// and the repository that holds a baton.hcl gets deploy, stage1…stage3,
// stage <address>, plan, validate, rollback, destroy, graph, history,
// status and serve over the pipeline that file describes (see Project).
// Each target is a few lines over pkg/deploy, which runs a job with the
// environment's lock, records it, masks secrets and notifies; this package
// reads the settings (see Project), parses the targets' arguments, prints
// history, status, a run and the graph, adds to errors the targets to run
// next, and wires serve (pkg/webhook) and the web view (pkg/ui).
package targets
