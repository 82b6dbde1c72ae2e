package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/baton-deploy/baton/pkg/handoff"
	"github.com/baton-deploy/baton/pkg/ledger"
	"github.com/baton-deploy/baton/pkg/pipeline"
)

// Kind is what happened to a deploy: the event a notification announces.
type Kind string

// The kinds of event. A rollback that fails is a Failure whose RollbackOf
// is set.
const (
	Success  Kind = "success"
	Failure  Kind = "failure"
	Rollback Kind = "rollback"
)

// allKinds lists every kind, in the order they are documented.
var allKinds = []Kind{Success, Failure, Rollback}

// Event is a finished deploy as notifications describe it. Build one from
// the run's record with FromRecord; every field is optional except Kind.
type Event struct {
	Kind   Kind
	Env    string
	RunID  string
	Target string // deploy, stage2, rollback, …
	Status string // the record's status: succeeded, failed, cancelled, interrupted

	User       string
	Host       string
	Trigger    string // cli or webhook
	Sender     string // who pushed, for a run a webhook started
	DeliveryID string // the webhook delivery that started the run
	GitCommit  string

	Start    time.Time
	End      time.Time
	Duration time.Duration

	Error      string // why the run failed; empty when it did not
	TemplateID string // the template the run deployed, as text; empty when none
	RollbackOf string // the run a rollback went back to; empty for other runs
}

// FromRecord returns the event for a finished run: a Rollback when the run
// rolled back to an earlier one and succeeded, a Success when another run
// succeeded, and a Failure otherwise — a failed rollback included, with its
// RollbackOf set. A nil record gives the zero Event, which a Notifier
// ignores.
func FromRecord(rec *ledger.Record) Event {
	if rec == nil {
		return Event{}
	}
	ev := Event{
		Kind:       Failure,
		Env:        rec.Env,
		RunID:      rec.RunID,
		Target:     rec.Target,
		Status:     rec.Status,
		User:       rec.User,
		Host:       rec.Host,
		Trigger:    rec.Trigger,
		Sender:     rec.Sender,
		DeliveryID: rec.DeliveryID,
		GitCommit:  rec.GitCommit,
		Start:      rec.Start,
		End:        rec.End,
		Error:      rec.Error,
		TemplateID: rec.Handoffs[handoff.TemplateID.Name()].Text,
		RollbackOf: rec.RollbackOf,
	}
	if !rec.Start.IsZero() {
		ev.Duration = rec.Duration()
	}
	switch {
	case rec.Succeeded() && rec.RollbackOf != "":
		ev.Kind = Rollback
	case rec.Succeeded():
		ev.Kind = Success
	}
	return ev
}

// Text is the event in one human line, as chat channels show it, e.g.
//
//	✅ production: deploy succeeded in 4m12s (run r-42, by alice@build1, template 8025, commit 1a2b3c4d5e6f)
func (e Event) Text() string {
	var b strings.Builder
	switch e.Kind {
	case Success:
		b.WriteString("✅ ")
	case Rollback:
		b.WriteString("↩️ ")
	default:
		b.WriteString("❌ ")
	}
	if e.Env != "" {
		b.WriteString(e.Env + ": ")
	}
	target := e.Target
	if target == "" {
		target = "deploy"
	}
	took := roundDuration(e.Duration)
	switch {
	case e.Kind == Success:
		fmt.Fprintf(&b, "%s succeeded in %s", target, took)
	case e.Kind == Rollback:
		fmt.Fprintf(&b, "rolled back to run %s in %s", e.RollbackOf, took)
	case e.RollbackOf != "":
		fmt.Fprintf(&b, "rollback to run %s %s after %s", e.RollbackOf, e.failedVerb(), took)
	default:
		fmt.Fprintf(&b, "%s %s after %s", target, e.failedVerb(), took)
	}
	if d := e.details(); d != "" {
		b.WriteString(" (" + d + ")")
	}
	if e.Error != "" && e.Kind != Success && e.Kind != Rollback {
		b.WriteString(": " + e.Error)
	}
	return b.String()
}

// failedVerb says how a run that did not succeed ended: "cancelled" and
// "interrupted" say more than "failed".
func (e Event) failedVerb() string {
	switch e.Status {
	case string(pipeline.StatusCancelled), ledger.StatusInterrupted:
		return "was " + e.Status
	}
	return "failed"
}

// details lists who ran what, for the end of Text.
func (e Event) details() string {
	var parts []string
	if e.RunID != "" {
		parts = append(parts, "run "+e.RunID)
	}
	switch who := strings.Trim(e.User+"@"+e.Host, "@"); {
	case e.Trigger == "webhook" && e.Sender != "":
		parts = append(parts, "pushed by "+e.Sender)
	case who != "":
		parts = append(parts, "by "+who)
	}
	if e.TemplateID != "" {
		parts = append(parts, "template "+e.TemplateID)
	}
	if e.GitCommit != "" {
		parts = append(parts, "commit "+shortCommit(e.GitCommit))
	}
	return strings.Join(parts, ", ")
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// roundDuration keeps a duration readable: tenths of a second under a
// minute, whole seconds above.
func roundDuration(d time.Duration) time.Duration {
	if d < time.Minute {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Second)
}

// document is Event's JSON form: the generic webhook's body and the
// command's standard input. Its fields are documented in the package
// documentation; every one is always present, so receivers need not guess.
type document struct {
	Event      Kind       `json:"event"`
	Env        string     `json:"env"`
	RunID      string     `json:"run_id"`
	Target     string     `json:"target"`
	Status     string     `json:"status"`
	User       string     `json:"user"`
	Host       string     `json:"host"`
	Trigger    string     `json:"trigger"`
	Sender     string     `json:"sender"`
	DeliveryID string     `json:"delivery_id"`
	GitCommit  string     `json:"git_commit"`
	Start      *time.Time `json:"start"`
	End        *time.Time `json:"end"`
	DurationMS int64      `json:"duration_ms"`
	Error      string     `json:"error"`
	TemplateID string     `json:"template_id"`
	RollbackOf string     `json:"rollback_of"`
	Text       string     `json:"text"`
}

// MarshalJSON encodes the event as the document the generic webhook posts
// and the command reads; see the package documentation for its fields.
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(document{
		Event: e.Kind, Env: e.Env, RunID: e.RunID, Target: e.Target, Status: e.Status,
		User: e.User, Host: e.Host, Trigger: e.Trigger, Sender: e.Sender,
		DeliveryID: e.DeliveryID, GitCommit: e.GitCommit,
		Start: utcOrNil(e.Start), End: utcOrNil(e.End), DurationMS: e.Duration.Milliseconds(),
		Error: e.Error, TemplateID: e.TemplateID, RollbackOf: e.RollbackOf,
		Text: e.Text(),
	})
}

// utcOrNil gives unknown times as null rather than year 1.
func utcOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// environ is the event as the command's environment variables.
func (e Event) environ() []string {
	vars := [][2]string{
		{"EVENT", string(e.Kind)}, {"ENV", e.Env}, {"RUN_ID", e.RunID}, {"TARGET", e.Target},
		{"STATUS", e.Status}, {"USER", e.User}, {"HOST", e.Host}, {"TRIGGER", e.Trigger},
		{"SENDER", e.Sender}, {"DELIVERY_ID", e.DeliveryID}, {"GIT_COMMIT", e.GitCommit},
		{"START", formatTime(e.Start)}, {"END", formatTime(e.End)},
		{"DURATION_MS", fmt.Sprint(e.Duration.Milliseconds())}, {"ERROR", e.Error},
		{"TEMPLATE_ID", e.TemplateID}, {"ROLLBACK_OF", e.RollbackOf}, {"TEXT", e.Text()},
	}
	env := make([]string, len(vars))
	for i, v := range vars {
		env[i] = envPrefix + v[0] + "=" + v[1]
	}
	return env
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
