package checkpoints

import (
	"encoding/json"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sampleMeta() Meta {
	return Meta{
		Format:  FormatVersion,
		Family:  "vae",
		Version: "0.3.1",
		Config:  json.RawMessage(`{"latent":20,"hidden":[400]}`),
		Step:    12000,
		Epoch:   7,
		RNG:     []byte{0, 1, 2, 255},
		Extra:   map[string]string{"best_eval": "0.125", "optim.steps": "12000"},
	}
}

func TestMetaRoundTrip(t *testing.T) {
	m := sampleMeta()
	raw := m.Encode()
	want := map[string]string{
		"format": FormatVersion, "family": "vae", "aigc_version": "0.3.1",
		"config": `{"latent":20,"hidden":[400]}`, "step": "12000", "epoch": "7",
		"rng": "AAEC/w==", "best_eval": "0.125", "optim.steps": "12000",
	}
	if !maps.Equal(raw, want) {
		t.Errorf("Encode = %v\nwant %v", raw, want)
	}
	got, err := DecodeMeta(raw, "x")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("DecodeMeta = %+v\nwant %+v", got, m)
	}
}

func TestMetaMinimal(t *testing.T) {
	m := Meta{Family: "gan"}
	raw := m.Encode()
	if !maps.Equal(raw, map[string]string{"format": FormatVersion, "family": "gan", "step": "0", "epoch": "0"}) {
		t.Errorf("Encode = %v", raw)
	}
	got, err := DecodeMeta(raw, "x")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Meta{Format: FormatVersion, Family: "gan"}); !reflect.DeepEqual(got, want) {
		t.Errorf("DecodeMeta = %+v, want %+v", got, want)
	}
}

func TestMetaReservedKeysWin(t *testing.T) {
	m := Meta{Family: "vae", Step: 3, Extra: map[string]string{"step": "99", "family": "gan", "format": "x", "lr": "0.1"}}
	raw := m.Encode()
	if raw["step"] != "3" || raw["family"] != "vae" || raw["format"] != FormatVersion || raw["lr"] != "0.1" {
		t.Errorf("Encode = %v", raw)
	}
}

func TestDecodeMetaRejects(t *testing.T) {
	good := sampleMeta().Encode()
	with := func(key, value string) map[string]string {
		m := maps.Clone(good)
		m[key] = value
		return m
	}
	without := func(key string) map[string]string {
		m := maps.Clone(good)
		delete(m, key)
		return m
	}
	cases := []struct {
		name string
		raw  map[string]string
		want string
	}{
		{"not aigc", map[string]string{"framework": "pt"}, `no aigc metadata (no "format" key)`},
		{"newer format", with("format", "aigc.checkpoint/2"), `format "aigc.checkpoint/2" is newer than this aigc understands (aigc.checkpoint/1); upgrade aigc`},
		{"much newer format", with("format", "aigc.checkpoint/10"), "is newer"},
		{"foreign format", with("format", "pt"), `format "pt" is not an aigc checkpoint format`},
		{"format zero", with("format", "aigc.checkpoint/0"), "not an aigc checkpoint format"},
		{"format not canonical", with("format", "aigc.checkpoint/01"), "not an aigc checkpoint format"},
		{"no family", without("family"), `no model family ("family")`},
		{"empty family", with("family", ""), "no model family"},
		{"no step", without("step"), `metadata has no "step"`},
		{"bad step", with("step", "12k"), `metadata "step" is "12k", not a non-negative integer`},
		{"negative epoch", with("epoch", "-1"), `metadata "epoch" is "-1"`},
		{"signed epoch", with("epoch", "+1"), `metadata "epoch" is "+1"`},
		{"no epoch", without("epoch"), `metadata has no "epoch"`},
		{"bad config", with("config", `{"latent":`), `metadata "config" is not valid JSON`},
		{"bad rng", with("rng", "not base64!"), `metadata "rng" is not valid base64`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodeMeta(c.raw, "runs/vae/latest.safetensors")
			checkErr(t, err, "checkpoint runs/vae/latest.safetensors: ", c.want)
		})
	}
}

func TestFileMetaAndFamily(t *testing.T) {
	path := filepath.Join(t.TempDir(), "latest.safetensors")
	m := sampleMeta()
	m.Family = "gan"
	if err := Write(path, []Tensor{{Name: "g.w", Shape: []int{1}, Data: []float32{1}}}, m.Encode()); err != nil {
		t.Fatal(err)
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.DecodeMeta()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("DecodeMeta = %+v, want %+v", got, m)
	}
	if err := f.ExpectFamily("gan"); err != nil {
		t.Error(err)
	}
	err = f.ExpectFamily("vae")
	want := "checkpoint " + path + ` holds a "gan" model, not "vae"`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}

	// A plain safetensors file, e.g. saved from Python.
	plain := filepath.Join(t.TempDir(), "plain.safetensors")
	if err := Write(plain, nil, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	f, err = Read(plain)
	if err != nil {
		t.Fatal(err)
	}
	checkErr(t, f.ExpectFamily("vae"), "checkpoint "+plain+": ", "not an aigc checkpoint format")
}

// ReadMeta reads a checkpoint's metadata from its header alone: the tensors after it may
// be cut off, and a header that does not fit the file is refused.
func TestReadMetaReadsTheHeaderAlone(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.safetensors")
	m := Meta{Family: "vae", Step: 7, Extra: map[string]string{"data": "x"}}
	if err := Write(path, []Tensor{{Name: "w", Shape: []int{1000}, Data: make([]float32, 1000)}}, m.Encode()); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	os.WriteFile(path, b[:len(b)-3000], 0o644) // the tensor's data cut short
	got, err := ReadMeta(path)
	if err != nil || got.Step != 7 || got.Family != "vae" || got.Extra["data"] != "x" {
		t.Fatalf("ReadMeta: %+v, %v", got, err)
	}
	os.WriteFile(path, b[:20], 0o644) // the header cut short
	if _, err := ReadMeta(path); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Fatalf("short header: %v", err)
	}
	if _, err := ReadMeta(filepath.Join(dir, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}
