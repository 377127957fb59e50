package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image/png"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aigc-go/aigc/datasets"
)

const smallData = "testdata/mnist-small"

// tiny is a VAE config small enough for tests to train in milliseconds.
var tiny = []string{"--data", smallData, "--set", "hidden=8", "--set", "latent=2", "--set", "batch_size=16"}

type result struct {
	code           int
	stdout, stderr string
}

// TestMain keeps the tests on the CPU on any machine: with no stand-in, a GPU machine
// with aigc-cuda on PATH would hand --device auto commands to it.
func TestMain(m *testing.M) {
	probeHost = func() gpuHost { return gpuHost{} }
	if os.Getenv(childEnv) == "1" { // a test's aigc process (TestKilledDuringSaveNextRunStartsClean)
		os.Exit(process(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func run(t *testing.T, ctx context.Context, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := execute(ctx, args, &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

func aigc(t *testing.T, args ...string) result {
	t.Helper()
	return run(t, context.Background(), args...)
}

func mustSucceed(t *testing.T, r result) {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
}

func TestTrainSampleEval(t *testing.T) {
	dir := t.TempDir()
	r := aigc(t, append([]string{"train", "vae", "--device", "cpu", "--run", dir, "--steps", "5"}, tiny...)...)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "hidden: 8") || !strings.Contains(r.stdout, "step 5") {
		t.Fatalf("train output lacks the effective config or the final step:\n%s", r.stdout)
	}
	for _, f := range []string{"latest.safetensors", "best.safetensors", "config.yaml", "metrics.jsonl"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}

	// Rerunning the same command resumes, and has nothing left to do.
	r = aigc(t, append([]string{"train", "vae", "--device", "cpu", "--run", dir, "--steps", "5"}, tiny...)...)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "resuming from") {
		t.Fatalf("no resume line:\n%s", r.stdout)
	}

	grid := filepath.Join(dir, "grid.png")
	mustSucceed(t, aigc(t, "sample", "vae", "--run", dir, "-n", "10", "-o", grid, "--seed", "3"))
	f, err := os.Open(grid)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	// 10 images, 8 per row: 2 rows of 28+2 pixels plus the outer 2-pixel border.
	if b := img.Bounds(); b.Dx() != 8*30+2 || b.Dy() != 2*30+2 {
		t.Fatalf("grid is %dx%d", b.Dx(), b.Dy())
	}

	npy := filepath.Join(dir, "s.npy")
	mustSucceed(t, aigc(t, "sample", "vae", "--run", dir, "-n", "3", "-o", npy))
	nf, err := os.Open(npy)
	if err != nil {
		t.Fatal(err)
	}
	data, shape, err := datasets.ReadNPY(nf, npy)
	nf.Close()
	if err != nil || len(shape) != 3 || shape[0] != 3 || shape[1] != 28 || len(data) != 3*784 {
		t.Fatalf("npy: %v %v %d", err, shape, len(data))
	}

	r = aigc(t, "eval", "vae", "--run", dir, "--data", smallData, "--json")
	mustSucceed(t, r)
	var rep evalReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	loss := rep.Metrics["loss"]
	if math.IsNaN(loss) || math.IsInf(loss, 0) || loss <= 0 || rep.Examples != 64 || rep.Step != 5 {
		t.Fatalf("eval report %+v", rep)
	}
	if len(rep.Figures) != 2 {
		t.Fatalf("figures %v", rep.Figures)
	}
	r = aigc(t, "eval", "vae", "--run", dir, "--data", smallData)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "loss ") || !strings.Contains(r.stdout, "reconstructions.png") {
		t.Fatalf("eval output:\n%s", r.stdout)
	}
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope.yaml")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"train", "vae", "--set", "lrr=1"}, 1, `unknown config key "lrr" (did you mean "lr"?)`},
		{[]string{"train", "vae", "--set", "batch_size=0"}, 1, "batch_size must be > 0 (got 0)"},
		{[]string{"train", "vae", "--set", "lr=0"}, 1, "lr must be > 0 (got 0)"},
		{[]string{"train", "vae", "--set", "epochs=-2"}, 1, "epochs must be >= 0 (got -2)"},
		{[]string{"train", "vae", "--config", missing}, 1, "config file " + missing + ": no such file"},
		{[]string{"train", "vae", "--steps", "-1"}, 2, "--steps must be >= 0"},
		{[]string{"train", "nosuch"}, 2, `unknown model "nosuch"`},
		{[]string{"train"}, 2, "takes one MODEL"},
		{[]string{"train", "vae", "--bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"train", "vae", "--data", filepath.Join(dir, "none")}, 1, "none"},
		{[]string{"train", "vae", "--device", "tpu"}, 2, `--device "tpu": want auto, cpu, cuda or cuda:N`},
		{[]string{"sample", "vae", "-n", "0", "--run", dir}, 2, "-n must be between 1 and 100000 (got 0)"},
		{[]string{"sample", "vae", "-n", "1000000", "--run", dir}, 2, "(got 1000000)"},
		{[]string{"sample", "vae", "--run", dir}, 1, "no checkpoint in " + dir},
		{[]string{"sample", "vae", "--checkpoint", missing}, 1, "checkpoint " + missing},
		{[]string{"sample", "vae", "--format", "gif", "--run", dir}, 2, `--format "gif"`},
		{[]string{"eval", "vae", "--run", dir}, 1, "no checkpoint in " + dir},
	}
	for _, c := range cases {
		r := aigc(t, c.args...)
		if r.code != c.code || !strings.Contains(r.stderr, c.want) {
			t.Errorf("aigc %s: exit %d, stderr %q; want exit %d and %q", strings.Join(c.args, " "), r.code, r.stderr, c.code, c.want)
		}
		if lines := strings.Count(strings.TrimSpace(r.stderr), "\n"); lines > 0 && c.code != 0 {
			t.Errorf("aigc %s: error is not one line: %q", strings.Join(c.args, " "), r.stderr)
		}
	}
}

func TestUnwritableOutputLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	mustSucceed(t, aigc(t, append([]string{"train", "vae", "--run", dir, "--steps", "1", "-q"}, tiny...)...))
	blocker := filepath.Join(dir, "file")
	os.WriteFile(blocker, []byte("x"), 0o644)
	out := filepath.Join(blocker, "grid.png") // a path under a regular file fails even as root
	r := aigc(t, "sample", "vae", "--run", dir, "-o", out)
	if r.code != 2 || !strings.Contains(r.stderr, out+": "+blocker+" is not a directory") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Fatalf("left %s behind", e.Name())
		}
	}
}

// A signal during training: the step finishes, a checkpoint is saved, the way to resume is
// printed and the exit status is 130.
func TestInterruptedTrainingExits130(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the signal arrives before the first step
	args := append([]string{"train", "vae", "--run", dir, "--fresh"}, tiny...)
	r := run(t, ctx, args...)
	if r.code != 130 {
		t.Fatalf("exit %d, want 130; stderr %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "saved "+filepath.Join(dir, "latest.safetensors")) ||
		!strings.Contains(r.stderr, "resume with: aigc train vae --run "+dir+" --data") ||
		strings.Contains(r.stderr, "--fresh") {
		t.Fatalf("stderr: %s", r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "latest.safetensors")); err != nil {
		t.Fatal(err)
	}
}

// onHost makes the hand-off see h instead of this machine, and records what it would
// execute.
func onHost(t *testing.T, h gpuHost) *[]string {
	t.Helper()
	var started []string
	prevProbe, prevExec := probeHost, execCUDA
	probeHost = func() gpuHost { return h }
	execCUDA = func(path string, args []string) error {
		started = append([]string{path}, args...)
		return errors.New("handed off")
	}
	t.Cleanup(func() { probeHost, execCUDA = prevProbe, prevExec })
	return &started
}

// Without a GPU, --device auto trains on the CPU after one line, and --device cuda stops
// with one line saying what is missing.
func TestDeviceWithoutGPU(t *testing.T) {
	onHost(t, gpuHost{})
	dir := t.TempDir()
	r := aigc(t, append([]string{"train", "vae", "--device", "auto", "--run", dir, "--steps", "1"}, tiny...)...)
	mustSucceed(t, r)
	if !strings.Contains(r.stderr, "--device auto: no NVIDIA GPU found") || !strings.Contains(r.stderr, "running on the CPU") ||
		strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("stderr %q: want one line saying the CPU is used", r.stderr)
	}
	// --quiet prints only results and errors: the fallback is neither.
	r = aigc(t, append([]string{"train", "vae", "--device", "auto", "--run", t.TempDir(), "--steps", "1", "-q"}, tiny...)...)
	mustSucceed(t, r)
	if r.stderr != "" {
		t.Fatalf("-q: stderr %q", r.stderr)
	}
	for _, dev := range []string{"cuda", "cuda:1"} {
		r = aigc(t, append([]string{"train", "vae", "--device", dev, "--run", t.TempDir(), "--steps", "1"}, tiny...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "--device "+dev+": no NVIDIA GPU found") || strings.Count(r.stderr, "\n") != 1 || r.stdout != "" {
			t.Fatalf("--device %s without a GPU: exit %d, stdout %q, stderr %q", dev, r.code, r.stdout, r.stderr)
		}
	}
}

// With a GPU but no driver library or no aigc-cuda, the line says which is missing and how
// to get it.
func TestDeviceSaysWhatIsMissing(t *testing.T) {
	for _, c := range []struct {
		host gpuHost
		want string
	}{
		{gpuHost{GPUs: []string{"NVIDIA H200"}}, "not the NVIDIA driver's libcuda.so.1"},
		{gpuHost{GPUs: []string{"NVIDIA H200"}, Driver: "/usr/lib/libcuda.so.1"}, "not aigc-cuda beside this aigc or on PATH (build it with make cuda"},
	} {
		onHost(t, c.host)
		r := aigc(t, "train", "vae", "--device", "cuda", "--steps", "1")
		if r.code != 1 || !strings.Contains(r.stderr, "found NVIDIA H200, but "+c.want) {
			t.Fatalf("exit %d, stderr %q: want %q", r.code, r.stderr, c.want)
		}
	}
}

// With a GPU, its driver and aigc-cuda, a request for a GPU runs aigc-cuda with the same
// command line; --device cpu stays here.
func TestDeviceHandsOffToAigcCUDA(t *testing.T) {
	started := onHost(t, gpuHost{GPUs: []string{"NVIDIA H200"}, Driver: "/usr/lib/libcuda.so.1", Binary: "/opt/aigc/aigc-cuda"})
	args := []string{"sample", "vae", "-n", "4", "--device", "cuda:1"}
	r := aigc(t, args...)
	want := append([]string{"/opt/aigc/aigc-cuda", "/opt/aigc/aigc-cuda"}, args...)
	if r.code != 1 || !slices.Equal(*started, want) || !strings.Contains(r.stderr, "starting /opt/aigc/aigc-cuda: handed off") {
		t.Fatalf("exit %d, started %q, stderr %q; want %q", r.code, *started, r.stderr, want)
	}
	*started = nil
	r = aigc(t, "models", "--device", "cpu")
	mustSucceed(t, r)
	if *started != nil {
		t.Fatalf("--device cpu started %q", *started)
	}
}

func TestInfoCommands(t *testing.T) {
	r := aigc(t, "models")
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "vae:") || !strings.Contains(r.stdout, "batch_size: 128") {
		t.Fatalf("models:\n%s", r.stdout)
	}
	r = aigc(t, "models", "--json")
	mustSucceed(t, r)
	var fams []struct {
		Name   string
		Config map[string]any
	}
	if err := json.Unmarshal([]byte(r.stdout), &fams); err != nil || len(fams) == 0 || fams[0].Config["lr"] != 0.001 {
		t.Fatalf("models --json: %v %s", err, r.stdout)
	}
	for _, args := range [][]string{{"version", "--json"}, {"devices", "--json"}} {
		r = aigc(t, args...)
		mustSucceed(t, r)
		var v any
		if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, r.stdout)
		}
	}
	r = aigc(t, "version")
	mustSucceed(t, r)
	if !strings.HasPrefix(r.stdout, "aigc ") {
		t.Fatalf("version: %s", r.stdout)
	}
}

func TestBench(t *testing.T) {
	r := aigc(t, append([]string{"bench", "vae", "--steps", "3", "--warmup", "1", "--json"}, tiny...)...)
	mustSucceed(t, r)
	var rep benchReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Steps != 3 || !(rep.MsPerStep > 0) || !(rep.SamplesPerS > 0) || !(rep.GFLOPS > 0) || rep.FLOPsPerStep == 0 {
		t.Fatalf("bench report %+v", rep)
	}
}

// data download fetches from a mirror (here a local server holding the embedded files)
// and checks the SHA-256 of each file.
func TestDataDownload(t *testing.T) {
	srv := httptest.NewServer(http.FileServer(http.Dir("../../datasets/mnist")))
	defer srv.Close()
	cache := t.TempDir()
	r := aigc(t, "data", "download", "mnist", "--cache", cache, "--mirror", srv.URL+"/")
	mustSucceed(t, r)
	if _, err := os.Stat(filepath.Join(cache, "mnist", "t10k-labels-idx1-ubyte.gz")); err != nil {
		t.Fatal(err)
	}
	r = aigc(t, "data", "download", "nosuch", "--cache", cache)
	if r.code != 1 || !strings.Contains(r.stderr, "fashion-mnist") {
		t.Fatalf("unknown set: exit %d %q", r.code, r.stderr)
	}

	// Offline (nothing listens at the mirror): one line, the URL once, what to do, and no
	// empty folder left to make later commands say the set is damaged.
	srv.Close()
	t.Setenv("XDG_CACHE_HOME", cache)
	r = aigc(t, "data", "download", "kmnist", "--cache", filepath.Join(cache, "aigc"), "--mirror", srv.URL+"/")
	url := srv.URL + "/train-images-idx3-ubyte.gz"
	if r.code != 1 || strings.Count(r.stderr, "\n") != 1 || strings.Count(r.stderr, url) != 1 ||
		!strings.HasPrefix(r.stderr, "aigc: kmnist: cannot download "+url) || !strings.Contains(r.stderr, "is this machine offline?") {
		t.Fatalf("offline: exit %d %q", r.code, r.stderr)
	}
	r = aigc(t, append([]string{"train", "vae", "--data", "kmnist", "--run", t.TempDir()}, tiny[2:]...)...)
	if r.code != 1 || !strings.Contains(r.stderr, "kmnist: data set not downloaded; run `aigc data download kmnist` first") {
		t.Fatalf("after a failed download: exit %d %q", r.code, r.stderr)
	}
}

// The scripts the README runs directly can be run directly.
func TestScriptsAreExecutable(t *testing.T) {
	for _, s := range []string{"../../scripts/torch/load_checkpoint.py", "../../scripts/gpu-check.sh"} {
		info, err := os.Stat(s)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(s)
		if info.Mode()&0o111 == 0 || !strings.HasPrefix(string(b), "#!") {
			t.Errorf("%s: mode %v, first line %q", s, info.Mode(), strings.SplitN(string(b), "\n", 2)[0])
		}
	}
}

// export writes the weights without the optimiser's moments; sample reads the result.
func TestExport(t *testing.T) {
	dir := t.TempDir()
	mustSucceed(t, aigc(t, append([]string{"train", "vae", "--run", dir, "--steps", "2", "-q"}, tiny...)...))
	out := filepath.Join(dir, "weights.safetensors")
	mustSucceed(t, aigc(t, "export", "vae", "--run", dir, "-o", out))
	full, _ := os.Stat(filepath.Join(dir, "latest.safetensors"))
	small, err := os.Stat(out)
	if err != nil || small.Size()*2 > full.Size() {
		t.Fatalf("export: %v; %d bytes from a %d-byte checkpoint", err, small.Size(), full.Size())
	}
	mustSucceed(t, aigc(t, "sample", "vae", "--checkpoint", out, "-n", "2", "-o", filepath.Join(dir, "s.png")))
	if r := aigc(t, "export", "vae", "--run", dir); r.code != 2 {
		t.Fatalf("export without -o: exit %d", r.code)
	}
}

// A GAN trains through the same commands; each epoch leaves a sample grid; eval judges its
// samples (FID, IS, classes) and --images judges an .npy of anyone's images.
func TestGANAndQuality(t *testing.T) {
	dir := t.TempDir()
	args := []string{"train", "gan", "--run", dir, "--data", smallData, "-q", "--set", "epochs=1",
		"--set", "hidden=16", "--set", "batch_size=32", "--set", "eval_samples=20"}
	mustSucceed(t, aigc(t, args...))
	if _, err := os.Stat(filepath.Join(dir, "samples", "epoch_001.png")); err != nil {
		t.Fatal(err)
	}
	r := aigc(t, "eval", "gan", "--run", dir, "--data", smallData, "--samples", "30", "--json")
	mustSucceed(t, r)
	var rep evalReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Samples != 30 || !(rep.Metrics["fid"] > 0) || !(rep.Metrics["is"] >= 1) || len(rep.Histogram) != 10 {
		t.Fatalf("quality %+v", rep)
	}

	npy := filepath.Join(dir, "real.npy")
	set, err := datasets.LoadImages(smallData)
	if err != nil {
		t.Fatal(err)
	}
	real := make([]float32, 0, 64*784)
	for _, p := range set.Test.Pixels {
		real = append(real, float32(p)/255)
	}
	f, _ := os.Create(npy)
	datasets.WriteNPY(f, real, []int{64, 28, 28})
	f.Close()
	r = aigc(t, "eval", "gan", "--images", npy, "--data", smallData)
	mustSucceed(t, r)
	if !strings.Contains(r.stdout, "FID ") || !strings.Contains(r.stdout, "classes:") {
		t.Fatalf("eval --images:\n%s", r.stdout)
	}
	// The test images against themselves: a distance of (nearly) zero.
	if fid := strings.Fields(r.stdout[strings.Index(r.stdout, "FID "):])[1]; !strings.HasPrefix(fid, "0.0") && !strings.HasPrefix(fid, "-0.0") {
		t.Fatalf("test set against itself: FID %s", fid)
	}

	for _, c := range []struct {
		data []float32
		want string
	}{{make([]float32, 2*5*5), "want N×28×28"}, {[]float32{-1, 0.5, 0, 0}, "values from -1"}} {
		bad := filepath.Join(dir, "bad.npy")
		f, _ := os.Create(bad)
		shape := []int{2, 5, 5}
		if len(c.data) == 4 {
			shape = []int{4, 1}
		}
		datasets.WriteNPY(f, c.data, shape)
		f.Close()
		if r := aigc(t, "eval", "gan", "--images", bad); r.code != 1 || !strings.Contains(r.stderr, bad) {
			t.Errorf("bad .npy: exit %d, %q", r.code, r.stderr)
		}
	}
	// A checkpoint of another family is refused by name.
	if r := aigc(t, "sample", "vae", "--checkpoint", filepath.Join(dir, "latest.safetensors")); r.code != 1 ||
		!strings.Contains(r.stderr, `holds a "gan" model, not "vae"`) {
		t.Fatalf("wrong family: exit %d, %q", r.code, r.stderr)
	}
}
