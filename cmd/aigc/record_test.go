package main

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/train"
)

// copyDir copies the regular files of a folder (not its folders).
func copyDir(t *testing.T, from, to string) {
	t.Helper()
	os.MkdirAll(to, 0o755)
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(to, e.Name()), b, 0o644)
	}
}

// A run records what it trained on; resuming without --data uses that and says so, other
// data is refused in one line, and eval scores on the run's data.
func TestRunRemembersItsData(t *testing.T) {
	base := t.TempDir()
	data := filepath.Join(base, "digits")
	copyDir(t, smallData, data)
	run := filepath.Join(base, "run")
	vae := []string{"--set", "hidden=8", "--set", "latent=2", "--set", "batch_size=16"}
	mustSucceed(t, aigc(t, append([]string{"train", "vae", "--run", run, "--data", data, "--steps", "16", "-q"}, vae...)...))

	// The record: config.yaml and the checkpoint.
	cfg, _ := os.ReadFile(filepath.Join(run, "config.yaml"))
	for _, want := range []string{"run:\n", "    model: vae\n", "    data: " + data + "\n", "    data_sha256: ", "    seed: 1\n", "    aigc_version: ", "hidden: 8\n"} {
		if !strings.Contains(string(cfg), want) {
			t.Fatalf("config.yaml lacks %q:\n%s", want, cfg)
		}
	}
	f, _ := checkpoints.Read(filepath.Join(run, train.LatestFile))
	meta, _ := f.DecodeMeta()
	if rec, ok := train.RecordedData(meta); !ok || rec.Arg != data || rec.Bytes == 0 || len(rec.SHA256) != 64 {
		t.Fatalf("checkpoint records %+v", rec)
	}
	// The file configures a new run as it is.
	mustSucceed(t, aigc(t, "train", "vae", "--run", filepath.Join(base, "again"), "--config", filepath.Join(run, "config.yaml"),
		"--data", data, "--steps", "1", "-q"))

	// Resumed without --data: the run's folder, said so, and the epoch count goes on.
	r := aigc(t, append([]string{"train", "vae", "--run", run, "--steps", "20"}, vae...)...)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "training on the run's data, "+data+" (recorded in "+filepath.Join(run, train.LatestFile)) ||
		!strings.Contains(r.stdout, "at step 16 (1.00 epochs done)") {
		t.Fatalf("resume said:\n%s", r.stdout)
	}

	// Other data: refused, nothing changed.
	before := snapshot(t, run)
	mnist := filepath.Join(base, "other")
	copyDir(t, smallData, mnist)
	writeIDX(t, filepath.Join(mnist, "t10k-labels-idx1-ubyte"), make([]byte, 64), 64) // other labels
	r = aigc(t, append([]string{"train", "vae", "--run", run, "--data", mnist, "--steps", "30", "-q"}, vae...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "was trained on "+data+" (") || !strings.Contains(r.stderr, "resume with --data "+data+", or start over with --fresh") ||
		strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("other data: exit %d, %q", r.code, r.stderr)
	}
	if after := snapshot(t, run); !maps.Equal(before, after) {
		t.Fatal("a refused resume changed the run")
	}

	// eval reads the run's data: 64 test images, not the embedded 10,000.
	r = aigc(t, "eval", "vae", "--run", run)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "on the digits test set (64 examples)") {
		t.Fatalf("eval: %q", r.stdout)
	}

	// The data gone: one line saying what the run trained on and what to do.
	os.RemoveAll(data)
	r = aigc(t, append([]string{"train", "vae", "--run", run, "--steps", "30"}, vae...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "records that its run trained on "+data+", which cannot be read now") ||
		!strings.Contains(r.stderr, "give --data, or --fresh to start over") {
		t.Fatalf("data gone: exit %d, %q", r.code, r.stderr)
	}
	if r := aigc(t, "eval", "vae", "--run", run); r.code != 1 || !strings.Contains(r.stderr, "--data reads other data") {
		t.Fatalf("eval, data gone: exit %d, %q", r.code, r.stderr)
	}
}
