// Package pipeline runs deployment stages — Packer, Terraform, Ansible, or
// any of a user's own — in the order their handoffs dictate.
//
// A [Stage] names the handoffs it needs and gives and does its job in Run.
// [New] checks that the stages form a graph without cycles; [Pipeline.Run]
// resolves each stage's inputs (from the stage that gives them, an argument,
// the environment or the handoff store), runs independent stages
// concurrently, retries what is marked retryable, and reports every step as
// an [Event] to any number of [Sink]s: the console, a JSON-lines log file, a
// run record. Optional abilities — a dry run, a health check, an undo, an
// input fingerprint — are small interfaces a stage implements when it can.
//
// Waiting for machines to accept SSH lives in package sshwait.
package pipeline
