package configs

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vaeLike mirrors the keys of vae.yaml, so the tests exercise a real embedded default.
type vaeLike struct {
	Train  `yaml:",inline"`
	Hidden int `yaml:"hidden"`
	Latent int `yaml:"latent"`
}

func (c *vaeLike) Validate() error {
	if c.Hidden <= 0 {
		return errorf("hidden must be > 0 (got %d)", c.Hidden)
	}
	return c.Train.Validate()
}

func errorf(format string, a ...any) error { return fmt.Errorf(format, a...) }

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "cfg.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadLayers(t *testing.T) {
	var c vaeLike
	if err := Load(&c, "vae", "", nil); err != nil {
		t.Fatal(err)
	}
	if c.Epochs != 10 || c.BatchSize != 128 || c.LR != 1e-3 || c.Hidden != 400 || c.Latent != 20 {
		t.Fatalf("defaults not loaded: %+v", c)
	}
	file := writeFile(t, "epochs: 3\nlatent: 2 # comment\n")
	c = vaeLike{}
	if err := Load(&c, "vae", file, []string{"epochs=1", "lr=2e-4", "beta1=0.5"}); err != nil {
		t.Fatal(err)
	}
	if c.Epochs != 1 || c.Latent != 2 || c.LR != 2e-4 || c.Beta1 != 0.5 || c.Hidden != 400 {
		t.Fatalf("file and --set not applied in order: %+v", c)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name, file string
		sets       []string
		want       string
	}{
		{"unknown key in file", "epochs: 1\nlrr: 3\n", nil, `line 2: unknown config key "lrr" (did you mean "lr"?)`},
		{"unknown key in --set", "", []string{"zzzzzzzz=1"}, `--set zzzzzzzz=1: unknown config key "zzzzzzzz" (known keys: batch_size, beta1`},
		{"bad type", "epochs: ten\n", nil, `line 1: epochs wants an integer, got "ten"`},
		{"bad --set type", "", []string{"lr=fast"}, `--set lr=fast: lr wants a number, got "fast"`},
		{"no equals", "", []string{"epochs"}, "--set epochs: want key=value"},
		{"duplicate", "epochs: 1\nepochs: 2\n", nil, `key "epochs" given twice`},
		{"not a mapping", "- 1\n- 2\n", nil, "want a mapping"},
		{"list value", "epochs: [1, 2]\n", nil, "not a list or mapping"},
		{"batch zero", "", []string{"batch_size=0"}, "batch_size must be > 0 (got 0)"},
		{"lr zero", "", []string{"lr=0"}, "lr must be > 0 (got 0)"},
		{"negative epochs", "", []string{"epochs=-1"}, "epochs must be >= 0 (got -1)"},
		{"family check", "", []string{"hidden=0"}, "hidden must be > 0"},
		{"broken yaml", "epochs: [\n", nil, "config file"},
		{"fraction for an integer", "", []string{"epochs=1.5"}, `--set epochs=1.5: epochs wants an integer, got "1.5"`},
		{"fraction in a file", "hidden: 1.5\n", nil, `line 1: hidden wants an integer, got "1.5"`},
		{"exponent for an integer", "", []string{"hidden=1e3"}, `hidden wants an integer, got "1e3"`},
		{"size beyond its limit", "", []string{"hidden=100000000"}, "hidden=100000000 is beyond this key's limit of 65536"},
		{"count beyond its tag's limit", "", []string{"epochs=2000000"}, "epochs=2000000 is beyond this key's limit of 1000000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := ""
			if c.file != "" {
				file = writeFile(t, c.file)
			}
			var cfg vaeLike
			err := Load(&cfg, "vae", file, c.sets)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got error %v, want one containing %q", err, c.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			if file != "" && strings.HasPrefix(c.want, "line") && !strings.Contains(err.Error(), file) {
				t.Fatalf("error does not name the file: %v", err)
			}
		})
	}
}

func TestIntegerKeysTakeIntegers(t *testing.T) {
	var c vaeLike
	if err := Load(&c, "vae", writeFile(t, "hidden: 1_024\n"), []string{"latent=+8"}); err != nil {
		t.Fatal(err)
	}
	if c.Hidden != 1024 || c.Latent != 8 {
		t.Fatalf("got hidden %d latent %d", c.Hidden, c.Latent)
	}
}

func TestMissingFile(t *testing.T) {
	var c vaeLike
	err := Load(&c, "vae", "/no/such/cfg.yaml", nil)
	if err == nil || err.Error() != "config file /no/such/cfg.yaml: no such file" {
		t.Fatalf("got %v", err)
	}
	if err := Load(&c, "nosuchmodel", "", nil); err == nil || !strings.Contains(err.Error(), `"nosuchmodel"`) {
		t.Fatalf("got %v", err)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	var a vaeLike
	if err := Load(&a, "vae", "", []string{"latent=7", "lr=0.0005"}); err != nil {
		t.Fatal(err)
	}
	var b vaeLike
	if err := FromJSON(&b, "vae", JSON(&a), "checkpoint"); err != nil {
		t.Fatal(err)
	}
	// A checkpoint written before a key existed gets the key's default.
	var c vaeLike
	if err := FromJSON(&c, "vae", []byte(`{"latent": 7}`), "checkpoint"); err != nil || c.Latent != 7 || c.Hidden != 400 || c.Epochs != 10 {
		t.Fatalf("old checkpoint: %v %+v", err, c)
	}
	if a != b {
		t.Fatalf("JSON round trip: %+v != %+v", a, b)
	}
	if !strings.Contains(string(YAML(&a)), "latent: 7\n") {
		t.Fatalf("YAML dump: %s", YAML(&a))
	}
}

func TestFamilies(t *testing.T) {
	fams := Families()
	if len(fams) == 0 || fams[0] == "" {
		t.Fatalf("Families() = %v", fams)
	}
}

type resolving struct {
	vaeLike `yaml:",inline"`
}

func (r *resolving) Resolve() {
	if r.Latent == 0 {
		r.Latent = r.Hidden / 10
	}
}

// Defaults that depend on other keys are resolved after every override.
func TestResolve(t *testing.T) {
	var c resolving
	if err := Load(&c, "vae", "", []string{"latent=0", "hidden=50"}); err != nil {
		t.Fatal(err)
	}
	if c.Latent != 5 {
		t.Fatalf("latent %d, want 5 (resolved from hidden)", c.Latent)
	}
}

func TestLRScale(t *testing.T) {
	tc := Train{LR: 1e-3, MinLR: 1e-4, WarmupSteps: 10, LRDecay: "cosine"}
	for _, c := range []struct {
		step int
		want float64
	}{{0, 0.1}, {9, 1}, {10, 1}, {55, 0.55}, {100, 0.1}, {150, 0.1}} {
		if got := tc.LRScale(c.step, 100); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("step %d: scale %g, want %g", c.step, got, c.want)
		}
	}
	// wsd: warm-up, then lr until the last 20% of the 100 steps, then linearly to min_lr.
	wsd := Train{LR: 1e-3, MinLR: 1e-4, WarmupSteps: 10, LRDecay: "wsd", DecayFrac: 0.2}
	for _, c := range []struct {
		step int
		want float64
	}{{0, 0.1}, {9, 1}, {50, 1}, {79, 1}, {80, 1}, {90, 0.55}, {100, 0.1}, {150, 0.1}} {
		if got := wsd.LRScale(c.step, 100); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("wsd step %d: scale %g, want %g", c.step, got, c.want)
		}
	}
	constant := Train{LR: 1e-3}
	if constant.LRScale(0, 100) != 1 || constant.LRScale(99, 100) != 1 {
		t.Error("no schedule must mean a constant rate")
	}
}

// Every key of every default config is documented with its default, and a key the
// family's config type does not have is impossible (Load would refuse it).
func TestDocumented(t *testing.T) {
	docs, err := Documented("vae")
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]KeyDoc{}
	for _, d := range docs {
		byKey[d.Key] = d
	}
	if d := byKey["hidden"]; d.Default != "400" || !strings.Contains(d.Comment, "hidden layer") {
		t.Fatalf("hidden: %+v", d)
	}
	if d := byKey["grad_accum_steps"]; d.Default != "1" || d.Comment == "" {
		t.Fatalf("grad_accum_steps: %+v", d)
	}
}
