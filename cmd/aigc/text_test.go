package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aigc-go/aigc/checkpoints"
)

const smallText = "testdata/shakespeare-30k.txt"

// tinyLM are language-model settings small enough for tests.
var tinyLM = []string{"--data", smallText, "--set", "hidden=16", "--set", "block_size=16", "--set", "batch_size=4"}

func TestTextTrainSampleEval(t *testing.T) {
	for _, model := range []string{"rnn", "lstm"} {
		t.Run(model, func(t *testing.T) {
			dir := t.TempDir()
			mustSucceed(t, aigc(t, append([]string{"train", model, "--device", "cpu", "--run", dir, "--steps", "5", "--set", "log_every=1"}, tinyLM...)...))
			if m, _ := os.ReadFile(filepath.Join(dir, "metrics.jsonl")); !strings.Contains(string(m), `"tokens_per_s"`) {
				t.Fatalf("metrics.jsonl does not count tokens:\n%s", m)
			}

			r := aigc(t, "sample", model, "--run", dir, "--prompt", "ROMEO:", "-n", "40", "--top-k", "5", "--top-p", "0.9", "--seed", "1")
			mustSucceed(t, r)
			if !strings.HasPrefix(r.stdout, "ROMEO:") || len([]rune(r.stdout)) != len("ROMEO:")+40+1 {
				t.Fatalf("sample printed %q, want the prompt, 40 characters and a newline", r.stdout)
			}
			again := aigc(t, "sample", model, "--run", dir, "--prompt", "ROMEO:", "-n", "40", "--top-k", "5", "--top-p", "0.9", "--seed", "1")
			if again.stdout != r.stdout {
				t.Fatal("the same seed sampled different text")
			}

			r = aigc(t, "eval", model, "--run", dir, "--data", smallText)
			mustSucceed(t, r)
			if !strings.Contains(r.stdout, "nats/token") || !strings.Contains(r.stdout, "bits per character") || !strings.Contains(r.stdout, "perplexity") {
				t.Fatalf("eval printed %q", r.stdout)
			}
		})
	}
}

func TestBPELanguageModel(t *testing.T) {
	dir := t.TempDir()
	mustSucceed(t, aigc(t, append([]string{"train", "lstm", "--run", dir, "--steps", "3", "--set", "tokenizer=bpe", "--set", "vocab_size=300"}, tinyLM...)...))
	// The tokeniser travels in the checkpoint: sampling needs nothing else.
	r := aigc(t, "sample", "lstm", "--checkpoint", filepath.Join(dir, "latest.safetensors"), "--prompt", "KING ¿é", "-n", "30")
	mustSucceed(t, r)
	if !strings.HasPrefix(r.stdout, "KING ¿é") {
		t.Fatalf("sample printed %q", r.stdout)
	}
}

// Training 2K steps straight and K, then K more after resuming, give the same weights and
// carried state, bit for bit.
func TestTextResumeIsExact(t *testing.T) {
	straight, resumed := t.TempDir(), t.TempDir()
	args := append([]string{"train", "lstm", "--set", "carry_state=true", "--set", "dropout=0.2", "--set", "layers=2"}, tinyLM...)
	mustSucceed(t, aigc(t, append(args, "--run", straight, "--steps", "8")...))
	mustSucceed(t, aigc(t, append(args, "--run", resumed, "--steps", "4")...))
	r := aigc(t, append(args, "--run", resumed, "--steps", "8")...)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout+r.stderr, "resum") {
		t.Fatalf("second run did not say it resumed:\n%s%s", r.stdout, r.stderr)
	}
	a, err := checkpoints.Read(filepath.Join(straight, "latest.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := checkpoints.Read(filepath.Join(resumed, "latest.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	names := a.Names()
	if !slices.Contains(names, "carry.state_0") || !slices.Equal(names, b.Names()) {
		t.Fatalf("tensors %v and %v", names, b.Names())
	}
	for _, n := range names {
		shape, _ := a.Shape(n)
		x, _ := a.Tensor(n, shape)
		y, _ := b.Tensor(n, shape)
		if !slices.Equal(x, y) {
			t.Fatalf("%s differs after resuming", n)
		}
	}
}

func TestTextBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty := write("empty.txt", nil)
	latin1 := write("latin1.txt", []byte("Caf\xe9"))
	short := write("short.txt", []byte("To be, or not to be."))
	run := t.TempDir()
	mustSucceed(t, aigc(t, append([]string{"train", "rnn", "--run", run, "--steps", "1"}, tinyLM...)...))
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"train", "lstm", "--data", filepath.Join(dir, "none.txt")}, 1, "none.txt: no such file"},
		{[]string{"train", "lstm", "--data", empty}, 1, "empty.txt: the corpus is empty"},
		{[]string{"train", "lstm", "--data", latin1}, 1, "latin1.txt: invalid UTF-8 at byte offset 3"},
		{[]string{"train", "lstm", "--data", short}, 1, "short.txt (training split): 18 tokens are too few for one window of 65 (block size + 1)"},
		{[]string{"train", "lstm", "--set", "tokenizer=words"}, 1, `tokenizer must be char or bpe (got "words")`},
		{[]string{"train", "lstm", "--set", "tokenizer=bpe", "--set", "vocab_size=100"}, 1, "vocab_size must be >= 256"},
		{[]string{"sample", "rnn", "--run", run, "--prompt", "naïve"}, 2, "--prompt: characters not in the vocabulary of"},
		{[]string{"sample", "rnn", "--run", run, "--temperature", "-1"}, 2, "--temperature must be >= 0"},
		{[]string{"sample", "rnn", "--run", run, "--top-p", "2"}, 2, "--top-p must be in [0, 1]"},
		{[]string{"sample", "rnn", "--run", run, "-n", "-5"}, 2, "-n must be between 0 and"},
		{[]string{"eval", "rnn", "--run", run, "--data", latin1}, 1, "latin1.txt: invalid UTF-8"},
	}
	for _, c := range cases {
		r := aigc(t, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("aigc %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), r.code, r.stderr, c.code, c.want)
		}
		if lines := strings.Count(strings.TrimSpace(r.stderr), "\n"); lines > 0 {
			t.Errorf("aigc %s: error is not one line: %q", strings.Join(c.args, " "), r.stderr)
		}
	}
}

func TestTextBench(t *testing.T) {
	for _, model := range []string{"rnn", "lstm"} {
		r := aigc(t, append([]string{"bench", model, "--steps", "2", "--warmup", "1", "--json"}, tinyLM...)...)
		mustSucceed(t, r)
		var rep benchReport
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		// 4 rows of 16 tokens per step.
		if rep.Steps != 2 || math.Abs(rep.TokensPerS-16*rep.SamplesPerS) > 1e-6*rep.TokensPerS || !(rep.GFLOPS > 0) {
			t.Fatalf("%s: bench report %+v", model, rep)
		}
		r = aigc(t, append([]string{"bench", model, "--steps", "2", "--warmup", "0"}, tinyLM...)...)
		if !strings.Contains(r.stdout, "tokens/s") {
			t.Fatalf("%s: bench printed %q", model, r.stdout)
		}
	}
}
