package models

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/graph"
	"github.com/aigc-go/aigc/internal/rng"
)

func defaultVAE(t testing.TB, sets ...string) *VAEConfig {
	t.Helper()
	cfg := &VAEConfig{}
	if err := configs.Load(cfg, "vae", "", sets); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func newVAE(t *testing.T, env Env, sets ...string) *VAE {
	t.Helper()
	m, err := NewVAE(defaultVAE(t, sets...), env, rng.New(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// The parameters are those of pytorch/examples/vae, by name and shape, so a checkpoint
// loads into that module with load_state_dict.
func TestVAEStateDictMatchesPyTorch(t *testing.T) {
	m := newVAE(t, Env{ImageH: 28, ImageW: 28})
	want := map[string][]int{
		"fc1.weight": {400, 784}, "fc1.bias": {400},
		"fc21.weight": {20, 400}, "fc21.bias": {20},
		"fc22.weight": {20, 400}, "fc22.bias": {20},
		"fc3.weight": {400, 20}, "fc3.bias": {400},
		"fc4.weight": {784, 400}, "fc4.bias": {784},
	}
	got := map[string][]int{}
	for _, p := range m.Params().All() {
		got[p.Name] = p.Shape()
	}
	if len(got) != len(want) {
		t.Fatalf("parameters %v, want %v", got, want)
	}
	for name, shape := range want {
		if !slices.Equal(got[name], shape) {
			t.Fatalf("%s: shape %v, want %v", name, got[name], shape)
		}
	}
	// PyTorch's default init: U(-1/√fan_in, 1/√fan_in).
	w := m.fc1.Weight.Data()
	bound := float32(1 / math.Sqrt(784))
	lo, hi := slices.Min(w), slices.Max(w)
	if lo < -bound || hi > bound || hi-lo < 1.9*bound {
		t.Fatalf("fc1.weight in [%v, %v], want U(±%v)", lo, hi, bound)
	}
}

// With PyTorch's weights, inputs and noise, the loss and every gradient match
// (scripts/torch/vae_fixture.py).
func TestVAEMatchesPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/torch_vae.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Batch     int
		StateDict map[string]struct{ Values []float64 } `json:"state_dict"`
		X, Eps    []float32
		Loss, BCE float64
		KL        float64
		Grads     map[string][]float64
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	m := newVAE(t, Env{ImageH: 4, ImageW: 4}, "hidden=8", "latent=2", "batch_size=3")
	for _, p := range m.Params().All() {
		sd, ok := f.StateDict[p.Name]
		if !ok || len(sd.Values) != len(p.Data()) {
			t.Fatalf("parameter %s not in the PyTorch state_dict with its size", p.Name)
		}
		for i, v := range sd.Values {
			p.Data()[i] = float32(v)
		}
	}
	if err := graph.Feed(m.x, f.X); err != nil {
		t.Fatal(err)
	}
	if err := graph.Feed(m.eps, f.Eps); err != nil {
		t.Fatal(err)
	}
	graph.MeanWeights(graph.Buffer(m.weight), f.Batch)
	if err := m.train.Run(); err != nil {
		t.Fatal(err)
	}
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-4*(1+math.Abs(want)) {
			t.Fatalf("%s = %.7g, PyTorch %.7g", what, got, want)
		}
	}
	near("loss", m.train.Float(0), f.Loss)
	near("bce", m.train.Float(1), f.BCE)
	near("kl", m.train.Float(2), f.KL)
	for i, p := range m.Params().All() {
		for j, want := range f.Grads[p.Name] {
			near(p.Name+" grad", float64(m.train.Grad(i)[j]), want)
		}
	}
}

// A fixed batch: a few Adam steps must lower its loss.
func TestVAETrainStepLearns(t *testing.T) {
	m := newVAE(t, Env{ImageH: 28, ImageW: 28}, "hidden=32", "latent=4", "batch_size=16")
	set, err := datasets.LoadImages("")
	if err != nil {
		t.Fatal(err)
	}
	b := &datasets.Batch{Rows: 16, Valid: 16, X: make([]float32, 16*784)}
	for i, p := range set.Train.Pixels[:16*784] {
		b.X[i] = float32(p) / 255
	}
	r := rng.New(3)
	first, err := m.TrainStep([]*datasets.Batch{b}, r)
	if err != nil {
		t.Fatal(err)
	}
	var last Metrics
	for range 60 {
		if last, err = m.TrainStep([]*datasets.Batch{b}, r); err != nil {
			t.Fatal(err)
		}
	}
	if !(last[0].Value < 0.75*first[0].Value) {
		t.Fatalf("loss went from %v to %v in 60 steps", first[0].Value, last[0].Value)
	}
	if bce, kl := last[1].Value, last[2].Value; math.Abs(bce+kl-last[0].Value) > 1e-3*last[0].Value {
		t.Fatalf("loss %v != bce %v + kl %v", last[0].Value, bce, kl)
	}
	// A padded batch (the last of an epoch): evaluation sums over the valid rows only,
	// and training minimises their mean, whatever the padding rows hold.
	b.Valid = 5
	for i := 5 * 784; i < len(b.X); i++ {
		b.X[i] = 0.5
	}
	sums, err := m.evalSums(b, rng.New(4))
	if err != nil {
		t.Fatal(err)
	}
	if per := sums[0] / 5; !(per > 0 && per < 2*first[0].Value) {
		t.Fatalf("eval loss per image %v", per)
	}
	step, err := m.TrainStep([]*datasets.Batch{b}, rng.New(4)) // the same noise: the loss before its update
	if err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(step[0].Value - sums[0]/5); d > 1e-4*step[0].Value {
		t.Fatalf("training loss %v on a padded batch, mean of the valid rows %v", step[0].Value, sums[0]/5)
	}
}

func TestVAESamplesAndReconstructions(t *testing.T) {
	m := newVAE(t, Env{ImageH: 28, ImageW: 28}, "hidden=16", "latent=3")
	imgs, err := m.SampleImages(70, rng.New(5)) // more than one chunk, not a multiple of it
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 70*784 || slices.Min(imgs) < 0 || slices.Max(imgs) > 1 {
		t.Fatalf("%d values in [%v, %v]", len(imgs), slices.Min(imgs), slices.Max(imgs))
	}
	again, _ := m.SampleImages(70, rng.New(5))
	if !slices.Equal(imgs, again) {
		t.Fatal("the same seed gave different samples")
	}
	rec, err := m.Reconstruct(imgs[:3*784], 3)
	if err != nil || len(rec) != 3*784 {
		t.Fatalf("reconstruct: %v, %d values", err, len(rec))
	}
	line, err := m.Interpolate(imgs[:784], imgs[784:2*784], 8)
	if err != nil || len(line) != 8*784 {
		t.Fatalf("interpolate: %v, %d values", err, len(line))
	}
	// The ends of the line are the reconstructions of its endpoints.
	if d := math.Abs(float64(line[100] - rec[100])); d > 1e-5 {
		t.Fatalf("interpolation starts at %v, reconstruction %v", line[100], rec[100])
	}
}

func TestVAEConfigValidation(t *testing.T) {
	for _, set := range []string{"hidden=0", "latent=-1"} {
		cfg := &VAEConfig{}
		if err := configs.Load(cfg, "vae", "", []string{set}); err == nil {
			t.Fatalf("--set %s accepted", set)
		}
	}
}

// A checkpoint written from StateTensors opens as the same model; the wrong family,
// a changed shape or an extra tensor is refused with a message naming the file.
func TestCheckpointRoundTrip(t *testing.T) {
	env := Env{ImageH: 28, ImageW: 28}
	m := newVAE(t, env, "hidden=16", "latent=3")
	m.opt.Steps = 7
	dir := t.TempDir()
	write := func(name, family string, cfg configs.Config, tensors []checkpoints.Tensor) string {
		extra := map[string]string{}
		StateMeta(m, env, extra)
		meta := checkpoints.Meta{Family: family, Config: configs.JSON(cfg), Step: 7, Extra: extra}
		path := filepath.Join(dir, name)
		if err := checkpoints.Write(path, tensors, meta.Encode()); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := write("good.safetensors", "vae", m.cfg, StateTensors(m))
	l, err := Open(good, "vae")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Model.Close()
	for i, p := range l.Model.Params().All() {
		if !slices.Equal(p.Data(), m.Params().All()[i].Data()) {
			t.Fatalf("%s differs after the round trip", p.Name)
		}
	}

	if _, err := Open(good, "gan"); err == nil || !strings.Contains(err.Error(), good) {
		t.Fatalf("wrong family: %v", err)
	}
	bigger := *m.cfg
	bigger.Hidden = 17
	changed := write("changed.safetensors", "vae", &bigger, StateTensors(m))
	if _, err := Open(changed, "vae"); err == nil || !strings.Contains(err.Error(), `"fc1.weight" has shape [16 784], the model wants [17 784]`) {
		t.Fatalf("changed shape: %v", err)
	}
	extra := write("extra.safetensors", "vae", m.cfg,
		append(StateTensors(m), checkpoints.Tensor{Name: "fc5.weight", Shape: []int{1}, Data: []float32{1}}))
	if _, err := Open(extra, "vae"); err == nil || !strings.Contains(err.Error(), "fc5.weight") {
		t.Fatalf("extra tensor: %v", err)
	}

	// Averaged weights replace the trained ones for sampling and evaluation; an averaged
	// tensor the model does not have is refused like any other.
	ema := graph.NewEMA(m.Params().All(), 0.9)
	for _, ts := range ema.State() {
		for j := range ts.Data {
			ts.Data[j] += 1
		}
	}
	averaged := write("averaged.safetensors", "vae", m.cfg, append(StateTensors(m), ema.State()...))
	la, err := Open(averaged, "vae")
	if err != nil {
		t.Fatal(err)
	}
	defer la.Model.Close()
	for i, p := range la.Model.Params().All() {
		if want := m.Params().All()[i].Data()[0] + 1; p.Data()[0] != want {
			t.Fatalf("%s[0] = %v, want the average %v", p.Name, p.Data()[0], want)
		}
	}
	stray := write("stray.safetensors", "vae", m.cfg, append(StateTensors(m),
		checkpoints.Tensor{Name: graph.EMAPrefix + "fc5.weight", Shape: []int{1}, Data: []float32{1}}))
	if _, err := Open(stray, "vae"); err == nil || !strings.Contains(err.Error(), "ema.fc5.weight") {
		t.Fatalf("stray averaged tensor: %v", err)
	}
}

// Every config key of every family has its default in configs/<family>.yaml, where users
// read them.
func TestDefaultsCoverEveryKey(t *testing.T) {
	for _, name := range Names() {
		fam, _ := Lookup(name)
		def, err := configs.Default(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range configs.Keys(fam.NewConfig()) {
			if !strings.Contains(string(def), "\n"+key+":") {
				t.Errorf("configs/%s.yaml does not set %s", name, key)
			}
		}
	}
}
