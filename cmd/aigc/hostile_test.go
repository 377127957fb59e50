package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/train"
)

// snapshot records every file under dir: a regular file's content hash, anything else's
// type, so a test can show that a failed command changed nothing.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if !d.Type().IsRegular() {
			out[rel] = d.Type().String()
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[rel] = fmt.Sprintf("%x", sha256.Sum256(b))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// writeIDX writes an IDX file of unsigned bytes.
func writeIDX(t *testing.T, path string, data []byte, dims ...int) {
	t.Helper()
	head := []byte{0, 0, 0x08, byte(len(dims))}
	for _, d := range dims {
		head = binary.BigEndian.AppendUint32(head, uint32(d))
	}
	if err := os.WriteFile(path, append(head, data...), 0o644); err != nil {
		t.Fatal(err)
	}
}

// badLabels is an MNIST-format set of 40 training and 10 test images of 8x8 whose training
// label 3 is 200.
func badLabels(t *testing.T, dir string) string {
	os.MkdirAll(dir, 0o755)
	for _, s := range []struct {
		name string
		n    int
	}{{"train", 40}, {"t10k", 10}} {
		labels := make([]byte, s.n)
		for i := range labels {
			labels[i] = byte(i % 10)
		}
		if s.name == "train" {
			labels[3] = 200
		}
		writeIDX(t, filepath.Join(dir, s.name+"-images-idx3-ubyte"), make([]byte, s.n*64), s.n, 8, 8)
		writeIDX(t, filepath.Join(dir, s.name+"-labels-idx1-ubyte"), labels, s.n)
	}
	return dir
}

// Every class of bad input found by trying aigc as a hostile user: one clear line, a
// non-zero exit, and nothing in any run directory or file of the user's changed.
func TestHostileInputChangesNothing(t *testing.T) {
	base := t.TempDir()
	run := filepath.Join(base, "run")
	mustSucceed(t, aigc(t, append([]string{"train", "vae", "--run", run, "--steps", "2", "-q"}, tiny...)...))
	other := filepath.Join(base, "other")
	os.Mkdir(other, 0o755)

	// A checkpoint whose metadata claims 100000-pixel-high images.
	f, err := checkpoints.Read(filepath.Join(run, train.LatestFile))
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := f.DecodeMeta()
	meta.Extra["image_h"] = "100000"
	var tensors []checkpoints.Tensor
	for _, name := range f.Names() {
		shape, _ := f.Shape(name)
		data, _ := f.Tensor(name, shape)
		tensors = append(tensors, checkpoints.Tensor{Name: name, Shape: shape, Data: data})
	}
	huge := filepath.Join(other, "huge.safetensors")
	checkpoints.Write(huge, tensors, meta.Encode())

	// A run whose latest checkpoint is an export (weights, no optimiser state).
	exported := filepath.Join(base, "exported")
	os.Mkdir(exported, 0o755)
	mustSucceed(t, aigc(t, "export", "vae", "--run", run, "-o", filepath.Join(exported, "w.safetensors")))
	os.Rename(filepath.Join(exported, "w.safetensors"), filepath.Join(exported, train.LatestFile))

	latest, _ := os.ReadFile(filepath.Join(run, train.LatestFile))
	os.WriteFile(filepath.Join(other, "copy.safetensors"), latest, 0o644)
	syscall.Mkfifo(filepath.Join(other, "fifo.png"), 0o644)
	os.WriteFile(filepath.Join(other, "mine.png"), []byte("my picture"), 0o644)
	os.Symlink(filepath.Join(other, "mine.png"), filepath.Join(other, "link.png"))
	os.Mkdir(filepath.Join(other, "figures"), 0o755)
	fraction := filepath.Join(other, "fraction.yaml")
	os.WriteFile(fraction, []byte("hidden: 1.5\n"), 0o644)
	long := filepath.Join(other, "long.tsv")
	os.WriteFile(long, []byte(strings.Repeat("a b\tb a\n", 20)+strings.Repeat("a ", 5000)+"\ta\n"), 0o644)
	labels := badLabels(t, filepath.Join(other, "labels"))

	before := snapshot(t, base)
	cases := []struct {
		args []string
		env  string // AIGC_MEMORY_LIMIT
		code int
		want string
	}{
		// Sizes bounded before memory is taken.
		{[]string{"train", "vae", "--run", run, "--set", "hidden=100000000"}, "", 1, "hidden=100000000 is beyond this key's limit of 65536"},
		{[]string{"train", "vae", "--run", run, "--set", "hidden=20000"}, "64M", 1, "needs 251 MB of memory (at parameter fc1.weight), but 67.1 MB is available: reduce hidden=20000 (default 400)"},
		{[]string{"train", "transformer", "--run", run, "--data", long, "--set", "batch_size=4"}, "", 1, long + ": source length 5000 is beyond the limit of 4096"},
		{[]string{"train", "transformer", "--run", run, "--set", "max_len=100000"}, "", 1, "max_len=100000 is beyond this key's limit of 4096"},
		{[]string{"sample", "vae", "--checkpoint", huge}, "", 1, "checkpoint " + huge + ": metadata image_h 100000 is beyond the limit of 4096"},
		{[]string{"train", "vae", "--run", run, "--threads", "100000"}, "", 2, "--threads must be between 0 (all cores) and 1024 (got 100000)"},
		{[]string{"train", "vae", "--run", run}, "lots", 2, `AIGC_MEMORY_LIMIT="lots": want a positive size`},
		// Integer keys take integers.
		{[]string{"train", "vae", "--run", run, "--set", "epochs=1.5"}, "", 1, `epochs wants an integer, got "1.5"`},
		{[]string{"train", "vae", "--run", run, "--set", "batch_size=100000"}, "", 1, "batch_size=100000 is beyond this key's limit of 65536"},
		{[]string{"train", "vae", "--run", run, "--config", fraction}, "", 1, fraction + `: line 1: hidden wants an integer, got "1.5"`},
		// Output paths.
		{[]string{"sample", "vae", "--run", run, "-o", filepath.Join(run, "best.safetensors")}, "", 2, "images are written as .png or .npy"},
		{[]string{"export", "vae", "--run", run, "-o", filepath.Join(run, "latest.safetensors")}, "", 2, "is a file of the run directory " + run},
		{[]string{"export", "vae", "--run", run, "-o", filepath.Join(other, "copy.safetensors")}, "", 2, "is a training checkpoint (it has optimiser state)"},
		{[]string{"sample", "vae", "--run", run, "-o", filepath.Join(other, "fifo.png")}, "", 2, "is not a regular file (a FIFO)"},
		{[]string{"sample", "vae", "--run", run, "-o", filepath.Join(other, "link.png")}, "", 2, "is a symbolic link"},
		{[]string{"sample", "vae", "--run", run, "-o", filepath.Join(other, "figures")}, "", 2, "is a directory: give a file name in it, e.g. " + filepath.Join(other, "figures", "images.png")},
		{[]string{"sample", "vae", "--run", run, "-o", filepath.Join(other, "x.jpg")}, "", 2, "images are written as .png or .npy: the extension names the format"},
		{[]string{"sample", "vae", "--run", run, "-o", filepath.Join(other, "x.png"), "--format", "npy"}, "", 2, "--format npy, but " + filepath.Join(other, "x.png") + " names a .png file"},
		{[]string{"sample", "vae", "--run", run, "-o", filepath.Join(other, "none", "x.png")}, "", 2, "the directory " + filepath.Join(other, "none") + " does not exist"},
		{[]string{"sample", "vae", "--run", run, "-o", "/dev/null"}, "", 2, "/dev/null is not a regular file (a device)"},
		// Flags that do not apply.
		{[]string{"sample", "lstm", "--beam", "4"}, "", 2, "--beam does not apply to lstm: it is for the models of pairs (transformer)"},
		{[]string{"sample", "transformer", "--prompt", "abc", "--top-k", "5"}, "", 2, "does not apply to transformer: it is for the models of text"},
		{[]string{"sample", "vae", "--run", run, "--temperature", "2"}, "", 2, "--temperature does not apply to vae"},
		{[]string{"eval", "lstm", "--samples", "10"}, "", 2, "--samples does not apply to lstm"},
		// Data checked when read.
		{[]string{"train", "classifier", "--run", run, "--data", labels}, "", 1, filepath.Join(labels, "train-labels-idx1-ubyte") + ": label 200 of image 3 is not one of the 10 classes (0 to 9)"},
		{[]string{"train", "vae", "--run", run, "--data", smallData, "--set", "batch_size=5000"}, "", 1, "batch_size=5000 is larger than its 256 training images: set batch_size to 256 or less"},
		// A checkpoint that cannot be resumed: the hint keeps the run.
		{[]string{"train", "vae", "--run", exported, "--data", smallData, "--set", "hidden=8", "--set", "latent=2"}, "", 1, "this run cannot resume from it: train in another --run directory (the file stays as it is)"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args[:2], " "), func(t *testing.T) {
			if c.env != "" {
				t.Setenv("AIGC_MEMORY_LIMIT", c.env)
			}
			r := aigc(t, c.args...)
			msg := strings.TrimSpace(r.stderr)
			if r.code != c.code || !strings.Contains(msg, c.want) {
				t.Fatalf("aigc %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), r.code, r.stderr, c.code, c.want)
			}
			lines := strings.Split(msg, "\n")
			if strings.HasPrefix(lines[0], deviceNote) { // --device auto's note, printed before the work
				lines = lines[1:]
			}
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "aigc: ") {
				t.Fatalf("aigc %s: not one line: %q", strings.Join(c.args, " "), r.stderr)
			}
			if after := snapshot(t, base); !maps.Equal(before, after) {
				t.Fatalf("aigc %s changed files:\nbefore %v\nafter  %v", strings.Join(c.args, " "), before, after)
			}
		})
	}
}

// deviceNote starts what --device auto prints on a machine without a GPU.
const deviceNote = "aigc: --device auto: no NVIDIA GPU found"

// --fresh with a rate that diverges at once loses nothing: the old run comes back on the
// next plain train, byte for byte.
func TestFreshThatDivergesLosesNothing(t *testing.T) {
	run := t.TempDir()
	mustSucceed(t, aigc(t, append([]string{"train", "vae", "--run", run, "--steps", "2", "-q"}, tiny...)...))
	before := snapshot(t, run)
	r := aigc(t, append([]string{"train", "vae", "--run", run, "--fresh", "--set", "lr=1e30", "-q"}, tiny...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "the run diverged") || !strings.Contains(r.stderr, "kept in "+filepath.Join(run, "previous")) {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	r = aigc(t, append([]string{"train", "vae", "--run", run, "--steps", "2"}, tiny...)...)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "restored the run that --fresh set aside") || !strings.Contains(r.stdout, "nothing to train") {
		t.Fatalf("stdout %q", r.stdout)
	}
	if after := snapshot(t, run); !maps.Equal(before, after) {
		t.Fatalf("the run changed:\nbefore %v\nafter  %v", before, snapshot(t, run))
	}
}

// Two trainings on one run directory: the second fails at once naming the first, whose
// files stay intact and whose metrics log each step once.
func TestSecondTrainerFailsAtOnce(t *testing.T) {
	run := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan result)
	go func() {
		first <- run2(ctx, append([]string{"train", "vae", "--run", run, "--set", "epochs=1000", "--set", "log_every=1", "-q"}, tiny...)...)
	}()
	// The first holds the lock once its metrics log has a step in it.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if m, _ := os.ReadFile(filepath.Join(run, train.MetricsFile)); strings.Contains(string(m), `"step":2,`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first training never logged a step")
		}
	}
	second := aigc(t, append([]string{"train", "vae", "--run", run, "-q"}, tiny...)...)
	if second.code != 1 || !strings.Contains(second.stderr, "is being trained by process") ||
		!strings.Contains(second.stderr, "(aigc train vae --run "+run) {
		t.Fatalf("second: exit %d, stderr %q", second.code, second.stderr)
	}
	cancel()
	r := <-first
	if r.code != exitInterrupted {
		t.Fatalf("first: exit %d, stderr %q", r.code, r.stderr)
	}
	f, err := checkpoints.Read(filepath.Join(run, train.LatestFile))
	if err != nil {
		t.Fatal(err)
	}
	meta, _ := f.DecodeMeta()
	data, _ := os.ReadFile(filepath.Join(run, train.MetricsFile))
	var steps []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if strings.Contains(line, `"kind":"train"`) {
			steps = append(steps, line[:strings.Index(line, `"epoch"`)])
		}
	}
	if len(steps) != meta.Step || len(slices.Compact(slices.Clone(steps))) != len(steps) {
		t.Fatalf("latest at step %d, metrics log %d train lines (duplicates?):\n%s", meta.Step, len(steps), data)
	}
}

// run2 is run without a *testing.T, for goroutines.
func run2(ctx context.Context, args ...string) result {
	var out, errOut strings.Builder
	code := execute(ctx, args, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

// childEnv makes the test binary run aigc's main instead of the tests (see TestMain), so a
// test can kill a real aigc process.
const childEnv = "AIGC_TEST_CHILD"

// A run killed (SIGKILL) in the middle of writing a checkpoint: the checkpoint it had is
// intact, and the next run removes the partial file and resumes from that checkpoint.
func TestKilledDuringSaveNextRunStartsClean(t *testing.T) {
	run := t.TempDir()
	args := []string{"train", "vae", "--run", run, "--data", smallData, "--set", "epochs=1000", "--save-every", "1", "-q"}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// Kill it while a temporary checkpoint file exists: mid-save. Stopping it first makes
	// sure the save is still unfinished when the kill lands.
	var partial string
	for deadline := time.Now().Add(60 * time.Second); partial == ""; {
		if time.Now().After(deadline) {
			t.Fatal("never caught a save in progress")
		}
		if _, err := os.Stat(filepath.Join(run, train.LatestFile)); err != nil {
			continue // not before the first checkpoint exists
		}
		entries, _ := os.ReadDir(run)
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), ".latest.safetensors.tmp-") {
				continue
			}
			cmd.Process.Signal(syscall.SIGSTOP)
			if _, err := os.Stat(filepath.Join(run, e.Name())); err == nil {
				cmd.Process.Signal(syscall.SIGKILL)
				partial = e.Name()
				break
			}
			cmd.Process.Signal(syscall.SIGCONT)
		}
	}
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(run, partial)); err != nil {
		t.Fatalf("the partial file of the killed save is gone: %v", err)
	}
	f, err := checkpoints.Read(filepath.Join(run, train.LatestFile))
	if err != nil {
		t.Fatalf("the checkpoint before the killed save is damaged: %v", err)
	}
	meta, _ := f.DecodeMeta()

	r := aigc(t, "train", "vae", "--run", run, "--data", smallData, "--steps", fmt.Sprint(meta.Step+1))
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "removed 1 temporary files") || !strings.Contains(r.stdout, fmt.Sprintf("at step %d ", meta.Step)) {
		t.Fatalf("stdout %q", r.stdout)
	}
	entries, _ := os.ReadDir(run)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Fatalf("%s left behind", e.Name())
		}
	}
}

// A corpus without a newline trains past its first epoch (whose sample starts from the
// first token of its vocabulary, not "\n"), and samples without --prompt.
func TestCorpusWithoutNewline(t *testing.T) {
	corpus := filepath.Join(t.TempDir(), "one-line.txt")
	os.WriteFile(corpus, []byte(strings.Repeat("to be or not to be, that is the question. ", 60)), 0o644)
	run := t.TempDir()
	mustSucceed(t, aigc(t, "train", "rnn", "--run", run, "--data", corpus, "--set", "hidden=16", "--set", "block_size=16",
		"--set", "batch_size=4", "--set", "epochs=2", "-q"))
	if _, err := os.Stat(filepath.Join(run, "samples", "epoch_002.txt")); err != nil {
		t.Fatal(err)
	}
	r := aigc(t, "sample", "rnn", "--run", run, "-n", "20")
	mustSucceed(t, r)
	if !strings.HasPrefix(r.stdout, " ") || len(r.stdout) != 22 { // the first token, 20 more and a newline
		t.Fatalf("sample %q", r.stdout)
	}
}
