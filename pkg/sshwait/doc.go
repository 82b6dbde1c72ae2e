// Package sshwait waits for machines to accept SSH, and says how their
// host keys are checked.
//
// [Wait] replaces the `sleep 30` between provisioning machines and
// configuring them: it returns as soon as every host accepts an SSH session
// (and, when asked, passes a readiness command). A [HostKeyPolicy] —
// [KnownHosts], [PinnedHostKeys], [TrustOnFirstUse], [AcceptNew] or, asked
// for by name, [InsecureIgnoreHostKey] — says which host keys are accepted.
//
// It is a package of its own so that importing the runner (pkg/pipeline)
// does not pull in golang.org/x/crypto/ssh.
package sshwait
