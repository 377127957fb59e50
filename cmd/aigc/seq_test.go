package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tinyGPT and tinySeq are configs small enough for tests.
var (
	tinyGPT = []string{"--data", smallText, "--set", "n_layer=1", "--set", "n_head=2", "--set", "n_embd=16",
		"--set", "block_size=16", "--set", "batch_size=4", "--set", "max_iters=6", "--set", "eval_interval=3", "--set", "eval_iters=2"}
	tinySeq = []string{"--set", "preset=custom", "--set", "d_model=16", "--set", "heads=2", "--set", "ff=32",
		"--set", "enc_layers=1", "--set", "dec_layers=1", "--set", "train_pairs=200", "--set", "test_pairs=20",
		"--set", "batch_size=16", "--set", "epochs=1"}
)

func TestGPTTrainSampleEval(t *testing.T) {
	dir := t.TempDir()
	r := aigc(t, append([]string{"train", "gpt", "--run", dir}, tinyGPT...)...)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, ": iter 6/6, eval loss") {
		t.Fatalf("train printed %q", r.stdout)
	}
	r = aigc(t, "sample", "gpt", "--run", dir, "--prompt", "ROMEO", "-n", "40", "--seed", "3")
	mustSucceed(t, r)
	if !strings.HasPrefix(r.stdout, "ROMEO") || len([]rune(r.stdout)) != 5+40+1 {
		t.Fatalf("sample printed %q", r.stdout)
	}
	r = aigc(t, "eval", "gpt", "--run", dir, "--data", smallText)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "perplexity") {
		t.Fatalf("eval printed %q", r.stdout)
	}
}

func TestTransformerTrainSampleEval(t *testing.T) {
	dir := t.TempDir()
	mustSucceed(t, aigc(t, append([]string{"train", "transformer", "--run", dir}, tinySeq...)...))
	for _, beam := range []string{"1", "3"} {
		r := aigc(t, "sample", "transformer", "--run", dir, "--input", "3 1 4 1 5", "--beam", beam)
		mustSucceed(t, r)
		for _, tok := range strings.Fields(r.stdout) {
			if len(tok) != 1 || tok[0] < '0' || tok[0] > '9' {
				t.Fatalf("beam %s decoded %q", beam, r.stdout)
			}
		}
	}
	r := aigc(t, "eval", "transformer", "--run", dir)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "exact match") || !strings.Contains(r.stdout, "token accuracy") {
		t.Fatalf("eval printed %q", r.stdout)
	}
	// A TSV file instead of a task.
	tsv := filepath.Join(t.TempDir(), "pairs.tsv")
	var lines []string
	for _, w := range []string{"a b", "b c", "c a", "a a b", "b b", "c c a", "a c", "b a c", "c b", "a b c"} {
		f := strings.Fields(w)
		rev := make([]string, len(f))
		for i, x := range f {
			rev[len(f)-1-i] = x
		}
		lines = append(lines, w+"\t"+strings.Join(rev, " "))
	}
	os.WriteFile(tsv, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	mustSucceed(t, aigc(t, append(append([]string{"train", "transformer", "--run", t.TempDir(), "--data", tsv}, tinySeq...), "--set", "batch_size=4")...))
}

func TestSequenceBadInput(t *testing.T) {
	dir := t.TempDir()
	mustSucceed(t, aigc(t, append([]string{"train", "transformer", "--run", dir}, tinySeq...)...))
	bad := filepath.Join(t.TempDir(), "bad.tsv")
	os.WriteFile(bad, []byte("1 2\t2 1\n3 4 no tab\n"), 0o644)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"train", "transformer", "--data", bad}, 1, "bad.tsv: line 2: want source<TAB>target"},
		{[]string{"train", "transformer", "--set", "task=copy"}, 1, `unknown task "copy"`},
		{[]string{"train", "transformer", "--set", "preset=huge"}, 1, "preset must be small, base or custom"},
		{[]string{"sample", "transformer", "--run", dir, "--input", "3 x 4"}, 1, `--input: tokens not in the vocabulary: "x"`},
		{[]string{"sample", "transformer", "--run", dir, "--input", ""}, 1, "--input is empty"},
		{[]string{"sample", "transformer", "--run", dir, "--input", "1", "--beam", "0"}, 2, "--beam must be between 1 and 64"},
		{[]string{"train", "gpt", "--set", "n_head=3"}, 1, "n_head (3) must divide n_embd (128)"},
	}
	for _, c := range cases {
		r := aigc(t, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("aigc %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), r.code, r.stderr, c.code, c.want)
		}
	}
}
