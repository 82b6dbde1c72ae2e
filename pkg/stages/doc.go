// Package stages holds the pipeline stages that run real tools: Packer,
// Terraform, Ansible, a wait for SSH and any command.
//
// Every tool runs non-interactively in its own process group; cancelling a
// stage sends the tool SIGINT and kills it only after a grace period. Its
// standard output and error are streamed line by line into the run's events
// and kept whole in the stage's run directory, and a failed run is a
// *ToolError with the tool, arguments, exit code and the tail of stderr.
package stages
