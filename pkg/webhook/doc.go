// Package webhook starts deploys when a push lands: a receiver for GitHub,
// Gitea/Forgejo, GitLab and generic signed deliveries, with no framework
// and no CI server.
//
// Every delivery is checked before anything starts — source network,
// method, content type, size, signature (in constant time), payload,
// freshness and replay — and refused with a JSON error otherwise: 403,
// 405, 415, 413, 401, 400, 409. A verified delivery whose event or branch
// does not deploy is acknowledged and ignored (202 with the reason).
//
// Each environment has a queue: one deploy running and at most one
// pending; triggers that come while one is pending coalesce into it,
// since the pending deploy will deploy whatever is current when it
// starts. The response says accepted, queued or coalesced, with the run
// ID. Every verified delivery is appended, fsynced, to deliveries.jsonl
// with the run it started or joined, and the IDs in it are remembered
// across restarts, so a replay is refused even after one.
//
// Serve stops cleanly: on its context's end it stops taking requests,
// records the pending deploy's deliveries as dropped (they may be sent
// again), gives the running deploy a grace period and then cancels it.
package webhook
