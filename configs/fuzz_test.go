package configs

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzConfig feeds arbitrary documents (as a config file or a checkpoint's stored JSON is
// read) and --set arguments to the one loader: it never panics, every error is one line
// naming its source, and a config it accepts is valid, within every key's bounds, and
// reads back from its own YAML unchanged.
func FuzzConfig(f *testing.F) {
	f.Add([]byte("epochs: 3\nlatent: 2 # comment\n"), "lr=2e-4")
	f.Add([]byte(`{"epochs": 1, "hidden": 1.5}`), "epochs=1.5")
	f.Add([]byte("hidden: 100000000\n"), "hidden=1_000")
	f.Add([]byte("a: &x [*x]\n"), "batch_size=")
	f.Add([]byte("epochs: [\n"), "=")
	f.Add([]byte("- 1\n"), "ema=0.999")
	f.Fuzz(func(t *testing.T, doc []byte, set string) {
		var c vaeLike
		if err := Load(&c, "vae", "", nil); err != nil {
			t.Fatal(err)
		}
		err := apply(&c, doc, "fuzz doc")
		if err == nil {
			err = Set(&c, set)
		}
		if err == nil {
			err = resolveAndValidate(&c)
		}
		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\r\n") || !(strings.HasPrefix(msg, "fuzz doc") || strings.HasPrefix(msg, "--set ") || isValidationError(msg)) {
				t.Fatalf("bad error %q", msg)
			}
			return
		}
		tags := fieldTags(&c)
		for k, v := range Ints(&c) {
			if l := intLimit(tags[k]); v > l || v < -l {
				t.Fatalf("%s=%d accepted beyond its limit %d", k, v, l)
			}
		}
		var again vaeLike
		if err := apply(&again, YAML(&c), "own yaml"); err != nil {
			t.Fatalf("own YAML does not read back: %v\n%s", err, YAML(&c))
		}
		if !bytes.Equal(YAML(&again), YAML(&c)) {
			t.Fatalf("YAML round trip changed the config:\n%s\nthen\n%s", YAML(&c), YAML(&again))
		}
	})
}

// isValidationError recognises the messages of Validate ("epochs must be >= 0 ...").
func isValidationError(msg string) bool {
	return strings.Contains(msg, " must be ")
}
