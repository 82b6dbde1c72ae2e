// Package handoff holds the typed values that pass from one pipeline stage to
// the next: a template ID from Packer to Terraform, an Ansible inventory from
// Terraform to Ansible, and any value of a user's own.
//
// A [Key] names a handoff and fixes its Go type, so a stage that needs a
// template ID asks for [TemplateID] and gets an int:
//
//	id, err := handoff.TemplateID.Get(in)
//
// Every value is validated where it is made and again where it is read. A
// value reaches a stage from one of four places, in this order: the stage that
// gives it in the same run, an explicit argument, an environment variable
// (BATON_TEMPLATE_ID, BATON_INVENTORY, …) and the [Store], a directory holding
// the last value each stage gave, one versioned JSON envelope per handoff,
// written atomically.
package handoff
