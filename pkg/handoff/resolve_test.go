package handoff

import (
	"errors"
	"strings"
	"testing"
)

func TestResolveOrder(t *testing.T) {
	s, _ := OpenStore(t.TempDir())
	raw, _ := TemplateID.Encode(8001)
	s.Put(Value{Name: "template_id", Raw: raw, Stage: "packer"})
	env := map[string]string{"BATON_TEMPLATE_ID": "8002"}
	getenv := func(k string) string { return env[k] }

	tests := []struct {
		name       string
		args       map[string]string
		env        bool
		store      *Store
		want       string
		wantSource Source
	}{
		{name: "argument wins", args: map[string]string{"template_id": "8003"}, env: true, store: s, want: "8003", wantSource: FromArgument},
		{name: "environment before store", env: true, store: s, want: "8002", wantSource: FromEnvironment},
		{name: "store last", store: s, want: "8001", wantSource: FromStore},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Resolver{Args: tt.args, Store: tt.store, Getenv: func(string) string { return "" }}
			if tt.env {
				r.Getenv = getenv
			}
			v, err := r.Resolve(TemplateID)
			if err != nil {
				t.Fatal(err)
			}
			if string(v.Raw) != tt.want || v.Source != tt.wantSource {
				t.Errorf("Resolve = %s from %s, want %s from %s", v.Raw, v.Source, tt.want, tt.wantSource)
			}
		})
	}
}

func TestResolveInvalidDoesNotFallBack(t *testing.T) {
	s, _ := OpenStore(t.TempDir())
	raw, _ := TemplateID.Encode(8001)
	s.Put(Value{Name: "template_id", Raw: raw})
	r := &Resolver{Store: s, Getenv: func(k string) string {
		if k == "BATON_TEMPLATE_ID" {
			return "80o1"
		}
		return ""
	}}
	_, err := r.Resolve(TemplateID)
	var inv *InvalidError
	if !errors.As(err, &inv) || inv.Source != FromEnvironment || !strings.Contains(err.Error(), "BATON_TEMPLATE_ID") {
		t.Fatalf("err = %v, want an InvalidError from BATON_TEMPLATE_ID", err)
	}
	r = &Resolver{Args: map[string]string{"template_id": "50"}, Store: s}
	if _, err := r.Resolve(TemplateID); err == nil || !strings.Contains(err.Error(), "out of range") {
		t.Errorf("argument 50: err = %v, want out of range", err)
	}
}

func TestMissingErrorSaysWhoNeedsItAndHowToGiveIt(t *testing.T) {
	s, _ := OpenStore(t.TempDir())
	r := &Resolver{Store: s, Getenv: func(string) string { return "" }}
	_, err := r.Resolve(TemplateID)
	var missing *MissingError
	if !errors.As(err, &missing) || !errors.Is(err, ErrMissing) {
		t.Fatalf("err = %v, want a *MissingError", err)
	}
	missing.Stage, missing.Producer, missing.Example = "terraform", "packer", "mage stage2 8025"
	msg := missing.Error()
	for _, want := range []string{`stage "terraform" needs handoff "template_id"`, "mage stage2 8025", "BATON_TEMPLATE_ID=", `run stage "packer" first`, s.Dir()} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
}
