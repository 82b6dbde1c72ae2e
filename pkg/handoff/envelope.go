package handoff

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// schemaVersion is the version of the envelope a Store writes. A reader
// rejects a newer version instead of guessing at it.
const schemaVersion = 1

// envelope is a stored handoff: the value and what is known about it.
type envelope struct {
	Schema    int             `json:"schema"`
	Name      string          `json:"name"`
	Value     json.RawMessage `json:"value"`
	SHA256    string          `json:"sha256"`
	Stage     string          `json:"stage,omitempty"`
	RunID     string          `json:"run_id,omitempty"`
	Time      time.Time       `json:"time"`
	Sensitive bool            `json:"sensitive,omitempty"`
}

// encodeEnvelope returns the versioned JSON envelope that stores v.
func encodeEnvelope(v Value) ([]byte, error) {
	if err := ValidName(v.Name); err != nil {
		return nil, err
	}
	if !json.Valid(v.Raw) {
		return nil, fmt.Errorf("handoff %q: value is not valid JSON", v.Name)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, v.Raw); err != nil {
		return nil, fmt.Errorf("handoff %q: %w", v.Name, err)
	}
	v.Raw = compact.Bytes()
	env := envelope{
		Schema:    schemaVersion,
		Name:      v.Name,
		Value:     v.Raw,
		SHA256:    v.SHA256(),
		Stage:     v.Stage,
		RunID:     v.RunID,
		Time:      v.Time.UTC(),
		Sensitive: v.Sensitive,
	}
	out, err := json.MarshalIndent(env, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("handoff %q: %w", v.Name, err)
	}
	return append(out, '\n'), nil
}

// decodeEnvelope reads a stored envelope and checks it: a known schema
// version, a valid name and a value whose checksum matches, so a truncated
// or hand-edited file is rejected rather than used. The returned value's
// Source is FromStore. It does not validate the value against a Def; the
// Store does that.
func decodeEnvelope(data []byte) (Value, error) {
	var env envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return Value{}, fmt.Errorf("truncated or empty: %w", err)
		}
		return Value{}, fmt.Errorf("not a handoff envelope: %w", err)
	}
	if dec.More() {
		return Value{}, errors.New("trailing data after the envelope")
	}
	switch {
	case env.Schema > schemaVersion:
		return Value{}, fmt.Errorf("schema version %d is newer than this baton understands (%d): upgrade baton", env.Schema, schemaVersion)
	case env.Schema < 1:
		return Value{}, fmt.Errorf("schema version %d is not valid", env.Schema)
	}
	if err := ValidName(env.Name); err != nil {
		return Value{}, err
	}
	if len(env.Value) == 0 {
		return Value{}, errors.New("the envelope holds no value")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, env.Value); err != nil {
		return Value{}, fmt.Errorf("value: %w", err)
	}
	v := Value{
		Name:      env.Name,
		Raw:       compact.Bytes(),
		Source:    FromStore,
		Stage:     env.Stage,
		RunID:     env.RunID,
		Time:      env.Time,
		Sensitive: env.Sensitive,
	}
	if sum := v.SHA256(); sum != env.SHA256 {
		return Value{}, fmt.Errorf("checksum mismatch: the value's SHA-256 is %s but the envelope says %q, so the file was changed after baton wrote it", sum, env.SHA256)
	}
	return v, nil
}
