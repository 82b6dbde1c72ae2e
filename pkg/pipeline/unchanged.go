package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/baton-deploy/baton/internal/atomicfile"
	"github.com/baton-deploy/baton/pkg/handoff"
)

// Fingerprints remembers, per stage, the input fingerprint of its last
// successful run.
type Fingerprints interface {
	Last(stage string) (string, bool)
	Record(stage, fingerprint string) error
}

// FileFingerprints keeps fingerprints in a directory, one small file per
// stage, written atomically.
type FileFingerprints struct{ Dir string }

type fingerprintFile struct {
	Stage       string `json:"stage"`
	Fingerprint string `json:"fingerprint"`
}

// Last implements Fingerprints.
func (f FileFingerprints) Last(stage string) (string, bool) {
	data, err := os.ReadFile(filepath.Join(f.Dir, stage+".json"))
	if err != nil {
		return "", false
	}
	var ff fingerprintFile
	if json.Unmarshal(data, &ff) != nil || ff.Stage != stage {
		return "", false
	}
	return ff.Fingerprint, true
}

// Record implements Fingerprints.
func (f FileFingerprints) Record(stage, fp string) error {
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return err
	}
	data, _ := json.Marshal(fingerprintFile{Stage: stage, Fingerprint: fp})
	return atomicfile.Write(filepath.Join(f.Dir, stage+".json"), data, 0o600)
}

// Reuser is a Checker with a cheaper test of whether its last result can
// be reused when its inputs are unchanged; the runner uses it instead of
// Check for that decision.
type Reuser interface {
	CheckReuse(ctx context.Context, j *Job) error
}

// unchanged decides whether a stage can be skipped: it is allowed to be
// (Options.SkipUnchanged), its fingerprint equals the last successful
// run's, every handoff it gives is stored, every host of an inventory it
// gives answers on its SSH port (a Terraform state sees no drift in a VM
// that died), and — when it is a Checker — what it made still passes its
// check. It returns the fingerprint, and a
// reason when the stage can be skipped.
func (rs *runState) unchanged(ctx context.Context, s Stage, job *Job) (fp, reason string) {
	f, ok := s.(Fingerprinter)
	if !ok || !rs.rules.fingerprints || rs.opts.Fingerprints == nil {
		return "", ""
	}
	fp, err := f.Fingerprint(ctx, job)
	if err != nil {
		job.Printf("cannot fingerprint the inputs (%v): the stage runs", err)
		return "", ""
	}
	if rs.opts.Force || !rs.opts.SkipUnchanged[s.Name()] || rs.opts.Store == nil {
		return fp, ""
	}
	last, ok := rs.opts.Fingerprints.Last(s.Name())
	if !ok || last != fp {
		return fp, ""
	}
	check := &Job{RunID: job.RunID, Stage: job.Stage, Attempt: job.Attempt, Mode: ModeCheck, Dir: job.Dir,
		In: &handoff.Values{}, Out: &handoff.Values{}, Log: job.Log, emit: job.emit, redact: job.redact}
	for _, v := range job.In.All() {
		check.In.Set(v)
	}
	for _, d := range s.Gives() {
		v, err := rs.opts.Store.Get(d)
		if err != nil {
			return fp, ""
		}
		check.In.Set(v)
	}
	if dead := deadGiven(ctx, s, check); len(dead) > 0 {
		job.Printf("inputs unchanged, but hosts it made do not answer SSH: %s: the stage runs", DeadHostList(dead))
		return fp, ""
	}
	if c, ok := s.(Checker); ok {
		verify := c.Check
		if r, ok := s.(Reuser); ok {
			verify = r.CheckReuse
		}
		if err := verify(ctx, check); err != nil {
			job.Printf("inputs unchanged, but %v: the stage runs", err)
			return fp, ""
		}
	}
	return fp, "unchanged"
}

func recordFingerprint(fps Fingerprints, stage, fp string) error {
	if fps == nil || fp == "" {
		return nil
	}
	if err := fps.Record(stage, fp); err != nil {
		return fmt.Errorf("recording the fingerprint of %s: %w", stage, err)
	}
	return nil
}

// HostChecker is a stage that says whether the hosts of the inventories
// it gives are worth dialing before it is skipped as unchanged: not when
// nothing after it reaches them over SSH (a stage that is not one skips
// the check only when it gives no inventory).
type HostChecker interface {
	ChecksHosts() bool
}

// deadGiven dials the hosts of every inventory s gives, as stored in
// job.In, once each: a dead host is reason enough to run the stage, which
// can then judge more carefully.
func deadGiven(ctx context.Context, s Stage, job *Job) []DeadHost {
	if hc, ok := s.(HostChecker); ok && !hc.ChecksHosts() {
		return nil
	}
	var dead []DeadHost
	for _, d := range s.Gives() {
		k, ok := d.(handoff.Key[*handoff.AnsibleInventory])
		if !ok {
			continue
		}
		inv, err := k.Get(job.In)
		if err != nil {
			continue
		}
		dead = append(dead, DeadHosts(ctx, inv, ProbeOptions{})...)
	}
	return dead
}
