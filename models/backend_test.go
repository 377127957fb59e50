package models

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/graph"
	"github.com/aigc-go/aigc/graph/exec"
	"github.com/aigc-go/aigc/internal/rng"
)

// A family's tiny model with the data of one training step and of an evaluation.
type familyCase struct {
	name, family string
	sets         []string
	env          func(t *testing.T) Env
	train, eval  func(t *testing.T, cfg configs.Config) datasets.Stream
	sample       func(m Model, env Env) error // runs every sampling program
}

// tinyImages is the first n test images of the embedded MNIST.
func tinyImages(t *testing.T, n int) *datasets.Images {
	t.Helper()
	set, err := datasets.LoadImages("")
	if err != nil {
		t.Fatal(err)
	}
	im := *set.Test
	im.N, im.Pixels, im.Labels = n, im.Pixels[:n*im.H*im.W], im.Labels[:n]
	return &im
}

func imageStream(family string, n int) func(*testing.T, configs.Config) datasets.Stream {
	return func(t *testing.T, cfg configs.Config) datasets.Stream {
		f, _ := Lookup(family)
		s, err := datasets.NewImageStream(tinyImages(t, n), datasets.ImageStreamOptions{BatchSize: cfg.TrainConfig().BatchSize,
			Lo: f.PixelRange[0], Hi: f.PixelRange[1]})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

const tinyText = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"

func textEnv(t *testing.T) Env {
	tok, err := datasets.NewCharTokenizer(tinyText)
	if err != nil {
		t.Fatal(err)
	}
	return Env{Tokenizer: tok}
}

func textStream(order datasets.TokenOrder) func(*testing.T, configs.Config) datasets.Stream {
	return func(t *testing.T, cfg configs.Config) datasets.Stream {
		tok := textEnv(t).Tokenizer
		ids, _ := tok.Encode(tinyText)
		s, err := datasets.NewTokenStream(ids, "tiny", datasets.TokenStreamOptions{BatchSize: cfg.TrainConfig().BatchSize,
			Window: cfg.(TextConfig).TextConfig().BlockSize, Order: order, Seed: 1, BatchesPerEpoch: 2})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// pairs is the reverse task of lengths 2 to 4 with its vocabulary.
func pairs(t *testing.T) (*datasets.PairSet, *datasets.Vocab) {
	set, err := datasets.GenerateTask("reverse", 40, 8, 2, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	return set, datasets.NewVocab(append(set.Train, set.Test...))
}

func pairStream(test bool) func(*testing.T, configs.Config) datasets.Stream {
	return func(t *testing.T, cfg configs.Config) datasets.Stream {
		set, vocab := pairs(t)
		ps := set.Train
		if test {
			ps = set.Test
		}
		var src, tgt [][]int32
		for _, p := range ps {
			s, _ := vocab.Encode(p.Source)
			d, _ := vocab.Encode(p.Target)
			src, tgt = append(src, s), append(tgt, d)
		}
		s, err := datasets.NewPairStream(src, tgt, cfg.TrainConfig().BatchSize, 4, 5, false, 1, datasets.Shard{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func sampleImages(m Model, _ Env) error {
	if _, err := m.(ImageSampler).SampleImages(3, rng.New(3)); err != nil {
		return err
	}
	if r, ok := m.(Reconstructor); ok {
		x := make([]float32, 2*28*28)
		if _, err := r.Reconstruct(x, 2); err != nil {
			return err
		}
		if _, err := r.Interpolate(x[:784], x[784:], 3); err != nil {
			return err
		}
	}
	return nil
}

func sampleText(m Model, env Env) error {
	ids, _ := env.Tokenizer.Encode("Speak")
	// Past block_size (8) tokens the GPT leaves its key/value cache for full windows.
	return m.(TextGenerator).Generate(ids, 12, SampleOptions{Temperature: 1, TopK: 5}, rng.New(3), func(int32) error { return nil })
}

func familyCases() []familyCase {
	images := func(*testing.T) Env { return Env{ImageH: 28, ImageW: 28} }
	return []familyCase{
		{name: "vae", family: "vae", sets: []string{"hidden=32", "latent=4", "batch_size=8"}, env: images,
			train: imageStream("vae", 8), eval: imageStream("vae", 12), sample: sampleImages},
		{name: "gan", family: "gan", sets: []string{"hidden=32", "latent=8", "batch_size=8", "eval_samples=4"}, env: images,
			train: imageStream("gan", 8), eval: imageStream("gan", 12), sample: sampleImages},
		{name: "dcgan", family: "gan", sets: []string{"arch=dcgan", "channels=4", "latent=8", "batch_size=4", "eval_samples=4"},
			env: images, train: imageStream("gan", 4), eval: imageStream("gan", 6), sample: sampleImages},
		{name: "classifier", family: "classifier", sets: []string{"conv1=4", "conv2=4", "hidden=16", "batch_size=8", "augment=1"},
			env: images, train: imageStream("classifier", 8), eval: imageStream("classifier", 12)},
		{name: "rnn", family: "rnn", sets: []string{"hidden=16", "block_size=8", "batch_size=3"}, env: textEnv,
			train: textStream(datasets.RandomWindows), eval: textStream(datasets.Sweep), sample: sampleText},
		{name: "rnn-embed", family: "rnn", sets: []string{"input=embed", "embed=6", "hidden=16", "block_size=8", "batch_size=3",
			"activation=none"}, env: textEnv, train: textStream(datasets.RandomWindows), eval: textStream(datasets.Sweep),
			sample: sampleText},
		{name: "lstm", family: "lstm", sets: []string{"embed=8", "hidden=16", "layers=2", "dropout=0.2", "block_size=8", "batch_size=3"},
			env: textEnv, train: textStream(datasets.RandomWindows), eval: textStream(datasets.Sweep), sample: sampleText},
		{name: "gpt", family: "gpt", sets: []string{"n_layer=2", "n_head=2", "n_embd=16", "block_size=8", "batch_size=3", "dropout=0.1",
			"bias=true", "eval_iters=2"}, env: textEnv, train: textStream(datasets.RandomWindows), eval: textStream(datasets.Sweep),
			sample: sampleText},
		{name: "transformer", family: "transformer", sets: []string{"preset=custom", "d_model=16", "heads=2", "ff=32", "enc_layers=1",
			"dec_layers=1", "batch_size=4"},
			env: func(t *testing.T) Env {
				_, vocab := pairs(t)
				return Env{Vocab: vocab, SrcLen: 4, TgtLen: 5}
			},
			train: pairStream(false), eval: pairStream(true),
			sample: func(m Model, env Env) error {
				src := [][]int32{{4, 5, 6}, {7, 4}}
				if _, err := m.(*Transformer).Translate(src, 1); err != nil {
					return err
				}
				_, err := m.(*Transformer).Translate(src[:1], 3)
				return err
			}},
	}
}

// build makes c's model (the same initialisation every time) and its config.
func (c familyCase) build(t *testing.T) (Model, configs.Config, Env) {
	t.Helper()
	f, err := Lookup(c.family)
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.NewConfig()
	if err := configs.Load(cfg, c.family, "", c.sets); err != nil {
		t.Fatal(err)
	}
	env := c.env(t)
	m, err := f.Build(cfg, env, rng.New(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, cfg, env
}

// evaluateAndStep evaluates the initial model, then takes one training step, returning
// the evaluation's and the step's metrics and the optimisers' moments, which after one
// step are the gradients: (1−β1)·g and (1−β2)·g². (Not the updated weights: Adam moves a
// weight by about ±lr whatever its gradient's size, so where a gradient is 0 up to
// rounding (a bias before batch normalisation, the keys' bias in attention), the two
// machines' roundings move it opposite ways.)
func (c familyCase) evaluateAndStep(t *testing.T) (Metrics, Metrics, map[string][]float32) {
	m, cfg, _ := c.build(t)
	eval, err := m.Evaluate(context.Background(), c.eval(t, cfg), 7)
	if err != nil {
		t.Fatal(err)
	}
	b := <-c.train(t, cfg).Epoch(context.Background(), 0, 0)
	step, err := m.TrainStep([]*datasets.Batch{b}, rng.New(2))
	if err != nil {
		t.Fatal(err)
	}
	moments := map[string][]float32{}
	for _, o := range m.Optimizers() {
		for _, ts := range o.State() {
			moments[ts.Name] = append([]float32(nil), ts.Data...)
		}
	}
	return eval, step, moments
}

// norms returns ‖a − b‖ and ‖b‖.
func norms(a, b []float32) (diff, norm float64) {
	for i := range b {
		diff += (float64(a[i]) - float64(b[i])) * (float64(a[i]) - float64(b[i]))
		norm += float64(b[i]) * float64(b[i])
	}
	return math.Sqrt(diff), math.Sqrt(norm)
}

// rms is the root mean square of x.
func rms(x []float32) float64 {
	_, n := norms(x, x)
	return n / math.Sqrt(float64(max(len(x), 1)))
}

// Every family's training step (its loss and every gradient) and evaluation give the same
// values on aigc's executor, with its fast kernels, as on Gorgonia's TapeMachine with the
// reference kernels, to float32 rounding: relative 1e-5. A gradient that is 0 but for
// rounding (the sum of terms that cancel) is compared against the rounding of the terms:
// each element may differ by 1e-5 of the model's largest gradient scale (RMS of a tensor).
func TestExecutorMatchesTapeMachine(t *testing.T) {
	for _, c := range familyCases() {
		t.Run(c.name, func(t *testing.T) {
			evalE, stepE, gradE := c.evaluateAndStep(t)
			prev := graph.UseBackend(graph.Tape)
			evalT, stepT, gradT := c.evaluateAndStep(t)
			graph.UseBackend(prev)

			compareRuns(t, "executor", "tape", evalE, evalT, stepE, stepT, gradE, gradT, 1e-5)
		})
	}
}

// compareRuns compares two runs' evaluations, steps and gradients (moments) to relative
// tol, as TestExecutorMatchesTapeMachine describes.
func compareRuns(t *testing.T, got, want string, evalG, evalW, stepG, stepW Metrics, gradG, gradW map[string][]float32, tol float64) {
	t.Helper()
	for i, ms := range [][2]Metrics{{evalG, evalW}, {stepG, stepW}} {
		for j := range ms[1] {
			e, r := ms[0][j].Value, ms[1][j].Value
			if math.IsNaN(r) && math.IsNaN(e) {
				continue // the GAN's g_loss placeholder in its discriminator's metrics
			}
			if d := math.Abs(e - r); !(d <= tol*math.Max(math.Abs(r), 1e-3)) {
				t.Errorf("%s %s: %s %.9g, %s %.9g", [...]string{"evaluation", "step"}[i], ms[1][j].Name, got, e, want, r)
			}
		}
	}
	if len(gradG) != len(gradW) || len(gradW) == 0 {
		t.Fatalf("%d moments on the %s, %d on the %s", len(gradG), got, len(gradW), want)
	}
	scale := 0.0
	for _, g := range gradW {
		scale = max(scale, rms(g))
	}
	for name, w := range gradW {
		d, n := norms(gradG[name], w)
		floor := tol * scale * math.Sqrt(float64(len(w)))
		if !(d <= tol*n+floor) {
			t.Errorf("%s: ‖diff‖ %.3g, ‖%s‖ %.3g (relative %.3g)", name, d, want, n, d/n)
		}
	}
}

// Every family's training, evaluation and sampling programs compile on every device this
// binary has: the test names each op a device has no kernel for.
func TestEveryProgramHasKernels(t *testing.T) {
	for _, d := range exec.Devices() {
		prev := graph.UseDevice(d)
		for _, c := range familyCases() {
			t.Run(d.Name()+"/"+c.name, func(t *testing.T) { c.everyProgram(t) })
		}
		graph.UseDevice(prev)
	}
}

// everyProgram compiles and runs c's training, evaluation and sampling programs.
func (c familyCase) everyProgram(t *testing.T) {
	m, cfg, env := c.build(t) // compiles the training and evaluation programs
	b := <-c.train(t, cfg).Epoch(context.Background(), 0, 0)
	if _, err := m.TrainStep([]*datasets.Batch{b}, rng.New(2)); err != nil { // the optimiser's program
		t.Fatal(err)
	}
	if _, err := m.Evaluate(context.Background(), c.eval(t, cfg), 7); err != nil {
		t.Fatal(err)
	}
	if c.sample != nil {
		if err := c.sample(m, env); err != nil {
			t.Fatal(fmt.Errorf("sampling: %w", err))
		}
	}
}
