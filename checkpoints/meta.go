package checkpoints

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// FormatVersion identifies the layout of aigc checkpoints: which metadata
// keys exist and what they mean. Bump the number when that changes in a way
// older builds would misread; they then refuse the file instead.
const FormatVersion = "aigc.checkpoint/1"

const formatPrefix = "aigc.checkpoint/"

// Keys of the safetensors __metadata__ object that Meta's fields are stored
// under. They are plain words so Python users can read them directly.
const (
	KeyFormat  = "format"
	KeyFamily  = "family"
	KeyVersion = "aigc_version"
	KeyConfig  = "config"
	KeyStep    = "step"
	KeyEpoch   = "epoch"
	KeyRNG     = "rng"
)

var reservedKeys = map[string]bool{
	KeyFormat: true, KeyFamily: true, KeyVersion: true, KeyConfig: true,
	KeyStep: true, KeyEpoch: true, KeyRNG: true,
}

// Meta is what aigc records about a checkpoint besides its tensors.
// safetensors metadata can only hold strings, so every field is stored as
// one (see the Key constants).
type Meta struct {
	Format  string          // FormatVersion when written; the file's value when read
	Family  string          // model family, e.g. "vae"
	Version string          // aigc version that wrote it
	Config  json.RawMessage // the model's effective configuration; must be valid JSON
	Step    int             // optimiser steps taken
	Epoch   int             // epochs completed
	RNG     []byte          // state of the run's random generator, stored base64
	// Extra holds anything else a family or the trainer needs (e.g.
	// "best_eval", "optim.steps"), stored under these keys verbatim. Keys
	// equal to a Key constant are ignored: the field wins.
	Extra map[string]string
}

// Encode returns m as safetensors metadata. It always records FormatVersion,
// whatever m.Format says, since that is the layout this code writes.
// Empty Version, Config and RNG are left out.
func (m Meta) Encode() map[string]string {
	out := make(map[string]string, len(m.Extra)+len(reservedKeys))
	for k, v := range m.Extra {
		if !reservedKeys[k] {
			out[k] = v
		}
	}
	out[KeyFormat] = FormatVersion
	out[KeyFamily] = m.Family
	if m.Version != "" {
		out[KeyVersion] = m.Version
	}
	if len(m.Config) > 0 {
		out[KeyConfig] = string(m.Config)
	}
	out[KeyStep] = strconv.Itoa(m.Step)
	out[KeyEpoch] = strconv.Itoa(m.Epoch)
	if len(m.RNG) > 0 {
		out[KeyRNG] = base64.StdEncoding.EncodeToString(m.RNG)
	}
	return out
}

// DecodeMeta reads aigc metadata from a checkpoint's safetensors metadata;
// name identifies the checkpoint in errors. It refuses files from a newer
// format version, whose meaning this build cannot know.
func DecodeMeta(raw map[string]string, name string) (Meta, error) {
	fail := func(format string, args ...any) (Meta, error) {
		return Meta{}, fmt.Errorf("checkpoint %s: "+format, append([]any{name}, args...)...)
	}
	format, ok := raw[KeyFormat]
	if !ok {
		return fail("no aigc metadata (no %q key); not written by aigc?", KeyFormat)
	}
	rest, ok := strings.CutPrefix(format, formatPrefix)
	v, err := strconv.Atoi(rest)
	if !ok || err != nil || v < 1 || strconv.Itoa(v) != rest {
		return fail("format %s is not an aigc checkpoint format", quote(format))
	}
	if v > 1 {
		return fail("format %s is newer than this aigc understands (%s); upgrade aigc to load it", quote(format), FormatVersion)
	}

	m := Meta{Format: format, Family: raw[KeyFamily], Version: raw[KeyVersion]}
	if m.Family == "" {
		return fail("metadata has no model family (%q)", KeyFamily)
	}
	if m.Step, err = count(raw, KeyStep); err != nil {
		return fail("%v", err)
	}
	if m.Epoch, err = count(raw, KeyEpoch); err != nil {
		return fail("%v", err)
	}
	if c, ok := raw[KeyConfig]; ok {
		if !json.Valid([]byte(c)) {
			return fail("metadata %q is not valid JSON", KeyConfig)
		}
		m.Config = json.RawMessage(c)
	}
	if r, ok := raw[KeyRNG]; ok {
		if m.RNG, err = base64.StdEncoding.DecodeString(r); err != nil {
			return fail("metadata %q is not valid base64: %v", KeyRNG, err)
		}
	}
	for k, v := range raw {
		if !reservedKeys[k] {
			if m.Extra == nil {
				m.Extra = map[string]string{}
			}
			m.Extra[k] = v
		}
	}
	return m, nil
}

// count parses a required non-negative integer.
func count(raw map[string]string, key string) (int, error) {
	s, ok := raw[key]
	if !ok {
		return 0, fmt.Errorf("metadata has no %q", key)
	}
	n, err := strconv.Atoi(s)
	// Only the canonical form Encode writes: no sign, no leading zeros.
	if err != nil || n < 0 || strconv.Itoa(n) != s {
		return 0, fmt.Errorf("metadata %q is %s, not a non-negative integer", key, quote(s))
	}
	return n, nil
}

// DecodeMeta decodes the aigc metadata of the file; see DecodeMeta.
func (f *File) DecodeMeta() (Meta, error) {
	return DecodeMeta(f.Meta, f.Path)
}

// ReadMeta reads the aigc metadata of the checkpoint at path: its header alone, not the
// tensors after it.
func ReadMeta(path string) (Meta, error) {
	raw, err := readHeader(path)
	if err != nil {
		return Meta{}, err
	}
	return DecodeMeta(raw, path)
}

// ExpectFamily fails unless the file is an aigc checkpoint of the given
// model family, so that loading a GAN checkpoint into a VAE reports just that
// instead of a list of mismatched tensors.
func (f *File) ExpectFamily(family string) error {
	m, err := f.DecodeMeta()
	if err != nil {
		return err
	}
	if m.Family != family {
		return fmt.Errorf("checkpoint %s holds a %s model, not %q", f.Path, quote(m.Family), family)
	}
	return nil
}
