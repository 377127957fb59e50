package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

// A mistyped model name is a usage error naming the nearest model and listing them all in
// words, before anything else is looked at, for every command that takes a model.
func TestUnknownModelSuggests(t *testing.T) {
	for _, cmd := range []string{"train", "sample", "eval", "export", "bench"} {
		r := aigc(t, cmd, "vea")
		want := `aigc: unknown model "vea" (did you mean vae?); the models are classifier, gan, gpt, lstm, rnn, transformer, vae (aigc models describes them)`
		if r.code != 2 || strings.TrimSpace(r.stderr) != want {
			t.Errorf("aigc %s vea: exit %d, stderr %q", cmd, r.code, r.stderr)
		}
	}
}

// --help shows each flag's default once.
func TestHelpShowsOneDefault(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"train", "--help"}, "also checkpoint every N steps (default the config's save_every)\n"},
		{[]string{"eval", "--help"}, "generated images to judge (default 10000 for a GAN, none for the VAE)\n"},
		{[]string{"sample", "--help"}, "-n, --count int"},
	} {
		r := aigc(t, c.args...)
		mustSucceed(t, r)
		if !strings.Contains(r.stdout, c.want) || strings.Contains(r.stdout, "(default -1)") {
			t.Errorf("aigc %s: want %q once:\n%s", strings.Join(c.args, " "), c.want, r.stdout)
		}
	}
}

// The classifier's weights ship in the binary: eval and export use them when there is no
// run of its own.
func TestEmbeddedClassifier(t *testing.T) {
	data, _ := filepath.Abs(smallData)
	t.Chdir(t.TempDir())
	r := aigc(t, "eval", "classifier", "--data", data)
	mustSucceed(t, r)
	if !strings.HasPrefix(r.stdout, "embedded classifier.safetensors at step 4690") || !strings.Contains(r.stdout, "accuracy") {
		t.Fatalf("eval: %q", r.stdout)
	}
	mustSucceed(t, aigc(t, "export", "classifier", "-o", "judge.safetensors"))
	if info, err := os.Stat("judge.safetensors"); err != nil || info.Size() < 100_000 {
		t.Fatalf("export: %v", err)
	}
	// Another family has nothing built in.
	if r := aigc(t, "eval", "vae"); r.code != 1 || !strings.Contains(r.stderr, "no checkpoint in runs/vae: train first (aigc train vae)") {
		t.Fatalf("eval vae: exit %d, %q", r.code, r.stderr)
	}
}

// Text written to a file is announced like images are.
func TestTextSampleToFileSaysSo(t *testing.T) {
	dir := t.TempDir()
	mustSucceed(t, aigc(t, append([]string{"train", "rnn", "--run", dir, "--steps", "2", "-q"}, tinyLM...)...))
	out := filepath.Join(dir, "sample.txt")
	r := aigc(t, "sample", "rnn", "--run", dir, "-n", "20", "-o", out)
	mustSucceed(t, r)
	if r.stdout != "wrote 20 tokens to "+out+"\n" {
		t.Fatalf("stdout %q", r.stdout)
	}
}

func TestBuildVersion(t *testing.T) {
	vcs := &debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20261203023445-02523ecb824c+dirty"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "02523ecb824c0123456789abcdef012345678901"}, {Key: "vcs.modified", Value: "true"}}}
	installed := &debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}
	for _, c := range []struct {
		stamped string
		info    *debug.BuildInfo
		want    string
	}{
		{"02523ec", vcs, "02523ec"},        // make stamps it
		{"dev", vcs, "02523ec-dirty"},      // go build in a checkout
		{"dev", installed, "v1.2.3"},       // go install ...@v1.2.3
		{"dev", &debug.BuildInfo{}, "dev"}, // nothing recorded
	} {
		if got := buildVersion(c.stamped, c.info, true); got != c.want {
			t.Errorf("buildVersion(%q, %+v) = %q, want %q", c.stamped, c.info.Main, got, c.want)
		}
	}
}

// eval --json has one schema for every family, its metrics under the names metrics.jsonl
// logs them by.
func TestEvalJSONSchema(t *testing.T) {
	cases := []struct {
		model string
		args  []string
	}{
		{"vae", tiny},
		{"rnn", tinyLM},
		{"transformer", tinySeq},
		{"gan", []string{"--data", smallData, "--set", "hidden=16", "--set", "batch_size=32", "--set", "eval_samples=20"}},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			dir := t.TempDir()
			mustSucceed(t, aigc(t, append([]string{"train", c.model, "--run", dir, "--set", "epochs=1", "-q"}, c.args...)...))
			args := []string{"eval", c.model, "--run", dir, "--json"}
			if c.model == "gan" {
				args = append(args, "--samples", "20")
			}
			r := aigc(t, args...)
			mustSucceed(t, r)
			var rep map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"model", "checkpoint", "step", "data", "examples", "metrics"} {
				if _, ok := rep[k]; !ok {
					t.Fatalf("no %q in %s", k, r.stdout)
				}
			}
			metrics := rep["metrics"].(map[string]any)
			for name := range lastEval(t, dir) {
				if _, ok := metrics[name]; !ok {
					t.Errorf("metrics.jsonl's %q is not in eval --json's metrics %v", name, metrics)
				}
			}
		})
	}
}

// lastEval returns the model's metrics of the last evaluation line of a run's metrics.jsonl.
func lastEval(t *testing.T, dir string) map[string]float64 {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var last map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["kind"] == "eval" {
			last = rec
		}
	}
	out := map[string]float64{}
	for k, v := range last {
		if f, ok := v.(float64); ok && k != "step" && k != "epoch" && k != "wall_s" {
			out[k] = f
		}
	}
	if len(out) == 0 {
		t.Fatalf("no evaluation in %s", data)
	}
	return out
}

// Completion names models, config keys with their defaults, run directories and devices.
func TestCompletion(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "runs", "vae"), 0o755)
	os.WriteFile(filepath.Join(dir, "runs", "vae", "config.yaml"), []byte("hidden: 8\n"), 0o644)
	os.MkdirAll(filepath.Join(dir, "runs", "notarun"), 0o755)
	t.Chdir(dir)
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"train", "v"}, []string{"vae\tvariational autoencoder"}},
		{[]string{"sample", ""}, []string{"gpt\t", "lstm\t", "transformer\t"}},
		{[]string{"train", "vae", "--set", "lat"}, []string{"latent=\tdefault 20: dimensions of the latent code z"}},
		{[]string{"train", "gpt", "--set", "max_iters="}, []string{"max_iters=2000"}},
		{[]string{"eval", "vae", "--run", ""}, []string{"runs/vae\n"}},
		{[]string{"plot", ""}, []string{"runs/vae\n"}},
		{[]string{"train", "vae", "--data", "f"}, []string{"fashion-mnist\taigc data download fashion-mnist"}},
		{[]string{"train", "vae", "--device", ""}, []string{"cuda:0\t"}},
	} {
		r := aigc(t, append([]string{"__complete"}, c.args...)...)
		mustSucceed(t, r)
		for _, w := range c.want {
			if !strings.Contains(r.stdout, w) {
				t.Errorf("completing %q: no %q in\n%s", c.args, w, r.stdout)
			}
		}
		if strings.Contains(r.stdout, "notarun") {
			t.Errorf("completing %q offered a folder that is no run", c.args)
		}
	}
}
