package models

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/graph"
	"github.com/aigc-go/aigc/internal/rng"
)

func newGAN(t *testing.T, sets ...string) *GAN { return newGANB(t, sets...) }

func newGANB(t testing.TB, sets ...string) *GAN {
	t.Helper()
	cfg := &GANConfig{}
	if err := configs.Load(cfg, "gan", "", sets); err != nil {
		t.Fatal(err)
	}
	m, err := NewGAN(cfg, Env{ImageH: 28, ImageW: 28}, rng.New(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// realBatch is n MNIST training images scaled to [-1, 1].
func realBatch(t *testing.T, n int) *datasets.Batch { return realBatchB(t, n) }

func realBatchB(t testing.TB, n int) *datasets.Batch {
	t.Helper()
	set, err := datasets.LoadImages("")
	if err != nil {
		t.Fatal(err)
	}
	b := &datasets.Batch{Rows: n, Valid: n, X: make([]float32, n*784)}
	for i, p := range set.Train.Pixels[:n*784] {
		b.X[i] = float32(p)/127.5 - 1
	}
	return b
}

func snapshot(m *GAN, prefix string) map[string][]float32 {
	out := map[string][]float32{}
	for _, p := range m.params.Prefixed(prefix) {
		out[p.Name] = slices.Clone(p.Data())
	}
	return out
}

func changed(before map[string][]float32, m *GAN, prefix string) bool {
	for _, p := range m.params.Prefixed(prefix) {
		if !slices.Equal(before[p.Name], p.Data()) {
			return true
		}
	}
	return false
}

// The discriminator step moves only D; the generator step moves only G.
func TestGANStepsMoveOnlyTheirNetwork(t *testing.T) {
	for _, arch := range []string{"mlp", "dcgan"} {
		t.Run(arch, func(t *testing.T) {
			m := newGAN(t, "arch="+arch, "batch_size=8", "hidden=16", "channels=4", "latent=8")
			b, r := realBatch(t, 8), rng.New(2)
			g0, d0 := snapshot(m, "generator."), snapshot(m, "discriminator.")
			ms, grads, err := m.discriminatorPass(b, r)
			if err != nil {
				t.Fatal(err)
			}
			m.optD.Update(grads)
			if changed(g0, m, "generator.") || !changed(d0, m, "discriminator.") {
				t.Fatal("the discriminator step must move D and only D")
			}
			// Every layer of D learns: dropout masks are drawn, not left at zero.
			first := m.params.Prefixed("discriminator.")[0]
			if slices.Equal(d0[first.Name], first.Data()) {
				t.Fatalf("%s did not move", first.Name)
			}
			if d, dr, df := ms[0].Value, ms[2].Value, ms[3].Value; !(d > 0) || !(dr > 0 && dr < 1) || !(df > 0 && df < 1) {
				t.Fatalf("d_loss %v, d_real %v, d_fake %v", d, dr, df)
			}
			d1 := snapshot(m, "discriminator.")
			gms, grads, err := m.generatorPass(8, r)
			if err != nil || !(gms[0].Value > 0) {
				t.Fatalf("g_loss %v, %v", gms, err)
			}
			m.optG.Update(grads)
			if changed(d1, m, "discriminator.") || !changed(g0, m, "generator.") {
				t.Fatal("the generator step must move G and only G")
			}
		})
	}
}

// The reference names and shapes: the MLP of the issue, and the DCGAN's layers.
func TestGANParameters(t *testing.T) {
	m := newGAN(t)
	want := map[string][]int{
		"generator.fc1.weight": {256, 100}, "generator.fc3.weight": {784, 256},
		"discriminator.fc1.weight": {256, 784}, "discriminator.fc3.weight": {1, 256},
	}
	for _, p := range m.params.State() {
		if s, ok := want[p.Name]; ok && !slices.Equal(p.Shape(), s) {
			t.Fatalf("%s: %v, want %v", p.Name, p.Shape(), s)
		}
	}
	if len(m.params.Prefixed("generator.")) != 6 || len(m.params.Prefixed("discriminator.")) != 6 {
		t.Fatal("want three Linear layers in each network")
	}
	dc := newGAN(t, "arch=dcgan")
	var bufs []string
	for _, p := range dc.params.State() {
		if p.Buffer {
			bufs = append(bufs, p.Name)
		}
	}
	if !slices.Contains(bufs, "discriminator.bn2.running_var") || !slices.Contains(bufs, "generator.bn1.num_batches_tracked") {
		t.Fatalf("batch norm buffers %v", bufs)
	}
}

func TestGANTrainsAndSamples(t *testing.T) {
	m := newGAN(t, "batch_size=16", "hidden=32")
	b, r := realBatch(t, 16), rng.New(3)
	for range 5 {
		ms, err := m.TrainStep([]*datasets.Batch{b}, r)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range ms {
			if math.IsNaN(x.Value) || math.IsInf(x.Value, 0) {
				t.Fatalf("%s = %v", x.Name, x.Value)
			}
		}
	}
	imgs, err := m.SampleImages(70, rng.New(4))
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 70*784 || slices.Min(imgs) < 0 || slices.Max(imgs) > 1 {
		t.Fatalf("%d values in [%v, %v]", len(imgs), slices.Min(imgs), slices.Max(imgs))
	}
}

func TestGANConfigErrors(t *testing.T) {
	for set, want := range map[string]string{
		"arch=vit":       `arch must be mlp or dcgan (got "vit")`,
		"real_label=0.3": "real_label must be in (0.5, 1]",
		"leaky_slope=1":  "leaky_slope must be in [0, 1)",
		"eval_samples=1": "eval_samples must be >= 2",
		"channels=0":     "channels must be > 0",
		"latent=0":       "latent must be > 0",
		"lr_g=-1":        "lr_g must be > 0",
	} {
		cfg := &GANConfig{}
		if err := configs.Load(cfg, "gan", "", []string{set}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("--set %s: %v, want %q", set, err, want)
		}
	}
}

// lr_g 0 resolves to the architecture's multiple of lr, and each network's Adam uses its own rate.
func TestGANLearningRates(t *testing.T) {
	for _, c := range []struct {
		sets []string
		d, g float64
	}{
		{[]string{"arch=mlp"}, 2e-4, 2e-4},
		{[]string{"arch=dcgan", "channels=4"}, 2e-4, 8e-4},
		{[]string{"arch=dcgan", "channels=4", "lr=1e-4"}, 1e-4, 4e-4},
		{[]string{"arch=dcgan", "channels=4", "lr_g=3e-4"}, 2e-4, 3e-4},
	} {
		m := newGAN(t, c.sets...)
		if m.cfg.LRG != c.g || m.optG.LR != c.g || m.optD.LR != c.d {
			t.Errorf("%v: lr_g %g, G's Adam %g, D's Adam %g; want G %g, D %g",
				c.sets, m.cfg.LRG, m.optG.LR, m.optD.LR, c.g, c.d)
		}
	}
}

// With PyTorch's weights, images and noise, both steps' losses and gradients match
// (scripts/torch/gan_fixture.py): leaky ReLU, label smoothing and the non-saturating
// generator loss are composed as in PyTorch.
func TestGANStepsMatchPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/torch_gan.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		StateDict map[string][]float64 `json:"state_dict"`
		X         []float32            `json:"x"`
		ZD        []float32            `json:"z_d"`
		ZG        []float32            `json:"z_g"`
		LossD     float64              `json:"loss_d"`
		LossG     float64              `json:"loss_g"`
		GradsD    map[string][]float64 `json:"grads_d"`
		GradsG    map[string][]float64 `json:"grads_g"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	cfg := &GANConfig{}
	if err := configs.Load(cfg, "gan", "", []string{"latent=3", "hidden=4", "batch_size=3", "dropout=0"}); err != nil {
		t.Fatal(err)
	}
	m, err := NewGAN(cfg, Env{ImageH: 2, ImageW: 2}, rng.New(1))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for _, p := range m.params.State() {
		v, ok := f.StateDict[p.Name]
		if !ok || len(v) != len(p.Data()) {
			t.Fatalf("%s missing from the PyTorch state_dict", p.Name)
		}
		for i := range v {
			p.Data()[i] = float32(v[i])
		}
	}
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-5*(1+math.Abs(want)) {
			t.Fatalf("%s = %.7g, PyTorch %.7g", what, got, want)
		}
	}
	d := &m.dStep
	graph.Feed(d.x, f.X)
	graph.Feed(d.z, f.ZD)
	graph.MeanWeights(graph.Buffer(d.weight), 3)
	if err := d.prog.Run(); err != nil {
		t.Fatal(err)
	}
	near("loss_d", d.prog.Float(0), f.LossD)
	for i, p := range m.params.Prefixed("discriminator.") {
		for j, want := range f.GradsD[p.Name] {
			near(p.Name+" grad", float64(d.prog.Grad(i)[j]), want)
		}
	}
	s := &m.gStep
	graph.Feed(s.z, f.ZG)
	graph.MeanWeights(graph.Buffer(s.weight), 3)
	if err := s.prog.Run(); err != nil {
		t.Fatal(err)
	}
	near("loss_g", s.prog.Float(0), f.LossG)
	for i, p := range m.params.Prefixed("generator.") {
		for j, want := range f.GradsG[p.Name] {
			near(p.Name+" grad", float64(s.prog.Grad(i)[j]), want)
		}
	}
}
