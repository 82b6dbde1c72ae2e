package handoff

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTemplateIDParseText(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		want    string
		wantErr string
	}{
		{name: "proxmox example", text: "8025", want: "8025"},
		{name: "lowest", text: "100", want: "100"},
		{name: "highest", text: "999999999", want: "999999999"},
		{name: "leading space", text: " 8025", wantErr: `" 8025" is not a template ID: it has spaces`},
		{name: "trailing newline", text: "8025\n", wantErr: `"8025\n" is not a template ID: it has spaces`},
		{name: "inner space", text: "80 25", wantErr: "it has spaces"},
		{name: "plus sign", text: "+8025", wantErr: `"+8025" is not a template ID: it has a sign`},
		{name: "negative", text: "-5", wantErr: `"-5" is not a template ID: it has a sign`},
		{name: "leading zero", text: "08025", wantErr: "it has a leading zero"},
		{name: "zero", text: "0", wantErr: "it has a leading zero"},
		{name: "hex", text: "0x1F41", wantErr: "is not a template ID"},
		{name: "exponent", text: "8e3", wantErr: "is not a template ID"},
		{name: "underscore", text: "8_025", wantErr: "is not a template ID"},
		{name: "non-ASCII digit", text: "８０２５", wantErr: "is not a template ID"},
		{name: "below range", text: "99", wantErr: "99 is out of range"},
		{name: "above range", text: "1000000000", wantErr: "1000000000 is out of range"},
		{name: "word", text: "abc", wantErr: `"abc" is not a template ID`},
		{name: "empty", text: "", wantErr: `"" is not a template ID`},
		{name: "fraction", text: "8025.5", wantErr: "is not a template ID"},
		{name: "overflow", text: "99999999999999999999999", wantErr: "is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := TemplateID.ParseText(tt.text)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseText(%q) error = %v, want one containing %q", tt.text, err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "template_id: ") {
					t.Errorf("error %q does not name the handoff", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseText(%q): %v", tt.text, err)
			}
			if string(raw) != tt.want {
				t.Errorf("ParseText(%q) = %s, want %s", tt.text, raw, tt.want)
			}
		})
	}
}

func TestTemplateIDDecode(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    int
		wantErr bool
	}{
		{name: "number", raw: "8025", want: 8025},
		{name: "numeric string from packer custom_data", raw: `"8026"`, want: 8026},
		{name: "float", raw: "8025.5", wantErr: true},
		{name: "exponent", raw: "8.025e3", wantErr: true},
		{name: "object", raw: `{"id":8025}`, wantErr: true},
		{name: "null", raw: "null", wantErr: true},
		{name: "out of range", raw: "42", wantErr: true},
		{name: "not json", raw: "80 25", wantErr: true},
		{name: "JSON spaces around a number", raw: " 8025\n", want: 8025},
		{name: "string with a space", raw: `" 8025"`, wantErr: true},
		{name: "string with a sign", raw: `"+8025"`, wantErr: true},
		{name: "negative", raw: "-8025", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TemplateID.Decode(json.RawMessage(tt.raw))
			if (err != nil) != tt.wantErr {
				t.Fatalf("Decode(%s) = %d, %v; want error %v", tt.raw, got, err, tt.wantErr)
			}
			if !tt.wantErr && got != tt.want {
				t.Errorf("Decode(%s) = %d, want %d", tt.raw, got, tt.want)
			}
		})
	}
}

func TestKeyGetPut(t *testing.T) {
	var vs Values
	if err := TemplateID.Put(&vs, 8025); err != nil {
		t.Fatal(err)
	}
	got, err := TemplateID.Get(&vs)
	if err != nil {
		t.Fatal(err)
	}
	if got != 8025 {
		t.Errorf("Get = %d, want 8025", got)
	}
	if err := TemplateID.Put(&vs, 7); err == nil {
		t.Error("Put(7) succeeded, want a range error")
	}
	if _, err := NewString("name").Get(&vs); err == nil || !strings.Contains(err.Error(), "Needs") {
		t.Errorf("Get of an absent handoff: err = %v, want one pointing at Needs", err)
	}
}

func TestZeroKeyIsAnErrorNotAPanic(t *testing.T) {
	var k Key[int]
	if _, err := k.ParseText("8025"); err == nil {
		t.Error("zero Key ParseText succeeded")
	}
	if err := k.Put(&Values{}, 1); err == nil {
		t.Error("zero Key Put succeeded")
	}
	if k.Name() != "" || k.Sensitive() {
		t.Error("zero Key has a name or is sensitive")
	}
}

func TestInvalidNameSurfaces(t *testing.T) {
	k := NewString("Bad Name")
	if _, err := k.Encode("x"); err == nil || !strings.Contains(err.Error(), "not valid") {
		t.Errorf("Encode with invalid name: err = %v, want a name error", err)
	}
}

func TestDefaultEnvVar(t *testing.T) {
	for name, want := range map[string]string{
		"template_id":  "BATON_TEMPLATE_ID",
		"inventory":    "BATON_INVENTORY",
		"app.db-url":   "BATON_APP_DB_URL",
		"web_template": "BATON_WEB_TEMPLATE",
	} {
		if got := defaultEnvVar(name); got != want {
			t.Errorf("defaultEnvVar(%q) = %q, want %q", name, got, want)
		}
	}
	if got := NewString("x").WithEnvVar("MY_X").EnvVar(); got != "MY_X" {
		t.Errorf("WithEnvVar: EnvVar = %q, want MY_X", got)
	}
}

func TestSecretDisplay(t *testing.T) {
	k := NewString("token").Secret()
	raw, err := k.Encode("hunter22")
	if err != nil {
		t.Fatal(err)
	}
	if got := k.Display(raw); got != "***" {
		t.Errorf("Display of a secret = %q, want ***", got)
	}
	if !k.Sensitive() || NewString("token").Sensitive() {
		t.Error("Secret must mark only the copy sensitive")
	}
}

func TestJSONKey(t *testing.T) {
	type app struct {
		Port int `json:"port"`
	}
	k := NewJSON("app", func(a app) error {
		if a.Port == 0 {
			return os.ErrInvalid
		}
		return nil
	})
	raw, err := k.ParseText(`{"port": 8080}`)
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != `{"port":8080}` {
		t.Errorf("inline ParseText = %s", raw)
	}
	path := filepath.Join(t.TempDir(), "app.json")
	os.WriteFile(path, []byte(`{"port": 9090}`), 0o600)
	got, err := k.ParseText(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"port":9090}` {
		t.Errorf("file ParseText = %s", got)
	}
	if _, err := k.ParseText(`{"port": 0}`); err == nil {
		t.Error("validation did not run")
	}
	if _, err := k.ParseText(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing file: err = %v", err)
	}
}

func TestValueText(t *testing.T) {
	for raw, want := range map[string]string{
		`"plain"`:      "plain",
		`8025`:         "8025",
		`{"a":1}`:      `{"a":1}`,
		`"with \"q\""`: `with "q"`,
	} {
		if got := (Value{Raw: json.RawMessage(raw)}).Text(); got != want {
			t.Errorf("Text(%s) = %q, want %q", raw, got, want)
		}
	}
}
