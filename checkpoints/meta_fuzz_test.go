package checkpoints

import (
	"bytes"
	"maps"
	"strings"
	"testing"
)

// FuzzDecodeMeta: any metadata a checkpoint could carry decodes without panicking, to
// one-line errors naming the checkpoint, or to a Meta that encodes and decodes back to
// itself.
func FuzzDecodeMeta(f *testing.F) {
	f.Add("aigc.checkpoint/1", "vae", "10", "1", `{"epochs":1}`, "AAEC", "image_h", "28")
	f.Add("aigc.checkpoint/2", "gan", "-1", "x", "{", "!!", "format", "v")
	f.Add("aigc.checkpoint/01", "", "99999999999999999999", "0", "null", "", "", "")
	f.Add("aigc.checkpoint/1", "lstm", "+3", "0x10", `"s"`, "A=", "seq_lengths", "3,\n4")
	f.Fuzz(func(t *testing.T, format, family, step, epoch, config, rng, key, value string) {
		raw := map[string]string{KeyFormat: format, KeyFamily: family, KeyStep: step, KeyEpoch: epoch, KeyConfig: config, KeyRNG: rng, key: value}
		m, err := DecodeMeta(raw, "fuzz.safetensors")
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "checkpoint fuzz.safetensors: ") || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("bad error %q", msg)
			}
			return
		}
		if m.Step < 0 || m.Epoch < 0 || m.Family == "" {
			t.Fatalf("accepted %+v", m)
		}
		again, err := DecodeMeta(m.Encode(), "again")
		if err != nil {
			t.Fatalf("encoded metadata does not decode: %v", err)
		}
		if again.Step != m.Step || again.Epoch != m.Epoch || again.Family != m.Family || again.Version != m.Version ||
			!bytes.Equal(again.RNG, m.RNG) || !bytes.Equal(again.Config, m.Config) || !maps.Equal(again.Extra, m.Extra) {
			t.Fatalf("round trip changed the metadata:\n%+v\n%+v", m, again)
		}
	})
}
