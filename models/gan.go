package models

import (
	"context"
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/graph"
	"github.com/aigc-go/aigc/internal/rng"
)

// Generative adversarial networks (Goodfellow et al. 2014): a generator G maps noise
// z ~ N(0, I) to images, a discriminator D tells real images from generated ones, and each
// is trained against the other with binary cross-entropy on D's logits:
//
//	D step   minimise BCE(D(x), r) + BCE(D(G(z)), 0)       r = 1, or 0.9 with label smoothing
//	G step   minimise BCE(D(G(z')), 1)                     the non-saturating generator loss
//
// Each step has its own graph, its own gradients (D's parameters in the first, G's in the
// second) and its own Adam, so the generator step never moves the discriminator.
// Two architectures: the MLP GAN (arch: mlp) and a convolutional DCGAN (arch: dcgan,
// Radford et al. 2015) with batch normalisation. Images are scaled to [-1, 1] (G ends in
// tanh).

func init() {
	register(&Family{
		Name:         "gan",
		Summary:      "generative adversarial network (MLP, or DCGAN with --set arch=dcgan) on MNIST-format images",
		Data:         Images,
		PixelRange:   [2]float32{-1, 1},
		JudgeSamples: 10000,
		NewConfig:    func() configs.Config { return &GANConfig{} },
		Build: func(cfg configs.Config, env Env, r *rng.RNG) (Model, error) {
			return NewGAN(cfg.(*GANConfig), env, r)
		},
	})
}

// GANConfig is the GAN's configuration (configs/gan.yaml).
type GANConfig struct {
	configs.Train `yaml:",inline"`
	Arch          string  `yaml:"arch"`
	Latent        int     `yaml:"latent"`
	Hidden        int     `yaml:"hidden"`
	Channels      int     `yaml:"channels"`
	LeakySlope    float64 `yaml:"leaky_slope"`
	Dropout       float64 `yaml:"dropout"`
	RealLabel     float64 `yaml:"real_label"`
	LRG           float64 `yaml:"lr_g"`
	EvalSamples   int     `yaml:"eval_samples" limit:"1000000"`
}

// Epochs each architecture trains for when the config leaves epochs at 0: the DCGAN learns
// far more per epoch, and each of its epochs costs far more.
var ganEpochs = map[string]int{"mlp": 50, "dcgan": 10}

// The generator's learning rate as a multiple of lr (the discriminator's) when lr_g is 0.
// The DCGAN's discriminator, with batch normalisation, outpaces a generator that learns
// at its rate: a PyTorch twin of aigc's DCGAN scored FID 771 after 2 epochs with lr_g =
// lr, 499 with 2×lr and 355 with 4×lr (scripts/torch/dcgan.py, aigc's metric).
var ganLRGMult = map[string]float64{"mlp": 1, "dcgan": 4}

// Resolve implements configs.Resolver: epochs 0 and lr_g 0 mean the architecture's
// defaults.
func (c *GANConfig) Resolve() {
	if c.Epochs == 0 {
		c.Epochs = ganEpochs[c.Arch]
	}
	if c.LRG == 0 {
		c.LRG = ganLRGMult[c.Arch] * c.LR
	}
}

// Validate checks the config.
func (c *GANConfig) Validate() error {
	switch {
	case c.Arch != "mlp" && c.Arch != "dcgan":
		return fmt.Errorf("arch must be mlp or dcgan (got %q)", c.Arch)
	case c.Latent <= 0:
		return fmt.Errorf("latent must be > 0 (got %d)", c.Latent)
	case c.Hidden <= 0:
		return fmt.Errorf("hidden must be > 0 (got %d)", c.Hidden)
	case c.Channels <= 0:
		return fmt.Errorf("channels must be > 0 (got %d)", c.Channels)
	case !(c.LeakySlope >= 0 && c.LeakySlope < 1):
		return fmt.Errorf("leaky_slope must be in [0, 1) (got %g)", c.LeakySlope)
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return fmt.Errorf("dropout must be in [0, 1) (got %g)", c.Dropout)
	case !(c.RealLabel > 0.5 && c.RealLabel <= 1):
		return fmt.Errorf("real_label must be in (0.5, 1] (got %g)", c.RealLabel)
	case !(c.LRG > 0):
		return fmt.Errorf("lr_g must be > 0, or 0 for the architecture's default (got %g)", c.LRG)
	case c.EvalSamples < 2:
		return fmt.Errorf("eval_samples must be >= 2 (got %d)", c.EvalSamples)
	}
	return c.Train.Validate()
}

// network is a generator or a discriminator: a function of a batch, built into a graph.
// training selects batch statistics (and their running update) in batch normalisation.
type network interface {
	forward(x *G.Node, training bool) *G.Node
}

// GAN is a built generator and discriminator with their optimisers.
type GAN struct {
	cfg        *GANConfig
	env        Env
	params     *graph.Params
	gen, disc  network
	optG, optD *graph.Adam
	accG, accD accumulator
	gMetrics   Metrics // the generator pass's, reused: TrainStep reports them in D's

	dStep   ganStep // D's loss on a real batch and a generated one
	gStep   ganStep // G's loss through D
	sampler *chunked
	scorer  *Scorer // the held-out images' features, fitted at the first evaluation
}

// ganStep is one of the two training programs with its inputs.
type ganStep struct {
	g                        *G.ExprGraph
	x, z, real, fake, weight *G.Node // images, noise, target labels, row weights
	prog                     *graph.Gradients
}

// masked is a network with dropout, whose masks are drawn before each run of a graph.
type masked interface {
	fillMasks(g *G.ExprGraph, r *rng.RNG)
}

// NewGAN builds the networks, initialised as PyTorch does, and compiles both steps.
func NewGAN(cfg *GANConfig, env Env, r *rng.RNG) (*GAN, error) {
	m := &GAN{cfg: cfg, env: env, params: graph.NewParams()}
	if env.ImageH <= 0 || env.ImageW <= 0 {
		return nil, fmt.Errorf("gan: image size %dx%d", env.ImageH, env.ImageW)
	}
	var err error
	switch cfg.Arch {
	case "mlp":
		m.gen = newMLPGenerator(m.params, cfg, env, r)
		m.disc = newMLPDiscriminator(m.params, cfg, env, r)
	case "dcgan":
		if m.gen, err = newDCGenerator(m.params, cfg, env, r); err != nil {
			return nil, err
		}
		if m.disc, err = newDCDiscriminator(m.params, cfg, env, r); err != nil {
			return nil, err
		}
	}
	adamD := graph.AdamConfig{LR: cfg.LR, Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps}
	adamG := adamD
	adamG.LR = cfg.LRG
	m.optG = graph.NewAdam(m.params.Prefixed("generator."), adamG)
	m.optD = graph.NewAdam(m.params.Prefixed("discriminator."), adamD)
	m.accG, m.accD = accumulate(m.params, m.optG), accumulate(m.params, m.optD)
	m.gMetrics = Metrics{{"g_loss", 0}}
	if err := m.compile(); err != nil {
		m.Close()
		return nil, err
	}
	// The targets never change: real images (smoothed), generated ones, and G's wish.
	fill(graph.Buffer(m.dStep.real), float32(cfg.RealLabel))
	fill(graph.Buffer(m.dStep.fake), 0)
	fill(graph.Buffer(m.gStep.real), 1)
	return m, nil
}

func (m *GAN) pixels() int { return m.env.ImageH * m.env.ImageW }

func (m *GAN) compile() error {
	b, z := m.cfg.BatchSize, m.cfg.Latent
	return graph.Build(func() {
		// Discriminator step: real batch against a generated one.
		g := G.NewGraph()
		s := &m.dStep
		s.g = g
		s.x = graph.Input(g, "x", tensor.Float32, b, m.pixels())
		s.z = graph.Input(g, "z", tensor.Float32, b, z)
		s.real = graph.Input(g, "real_label", tensor.Float32, b, 1)
		s.fake = graph.Input(g, "fake_label", tensor.Float32, b, 1)
		s.weight = graph.Input(g, "weight", tensor.Float32, b)
		realLogits := m.disc.forward(s.x, true)
		fakeLogits := m.disc.forward(m.gen.forward(s.z, true), true)
		loss := graph.Add(weighted(graph.BCEWithLogits(realLogits, s.real), s.weight),
			weighted(graph.BCEWithLogits(fakeLogits, s.fake), s.weight))
		var err error
		if s.prog, err = graph.CompileGradients(loss, m.params.Prefixed("discriminator."), realLogits, fakeLogits); err != nil {
			panic(err)
		}

		// Generator step: fool the discriminator, whose weights only carry the gradient.
		g = G.NewGraph()
		s = &m.gStep
		s.g = g
		s.z = graph.Input(g, "z", tensor.Float32, b, z)
		s.real = graph.Input(g, "target", tensor.Float32, b, 1)
		s.weight = graph.Input(g, "weight", tensor.Float32, b)
		logits := m.disc.forward(m.gen.forward(s.z, true), true)
		if s.prog, err = graph.CompileGradients(weighted(graph.BCEWithLogits(logits, s.real), s.weight),
			m.params.Prefixed("generator.")); err != nil {
			panic(err)
		}
	})
}

// weighted is the mean of per-row losses over a batch's real rows (see MeanWeights).
func weighted(perRow, weight *G.Node) *G.Node { return graph.Sum(graph.Mul(perRow, weight)) }

// Params implements Model.
func (m *GAN) Params() *graph.Params { return m.params }

// Optimizers implements Model: the generator's, then the discriminator's.
func (m *GAN) Optimizers() []*graph.Adam { return []*graph.Adam{m.optG, m.optD} }

// StepFLOPs implements Model: both programs of a training step.
func (m *GAN) StepFLOPs() int64 { return m.dStep.prog.FLOPs() + m.gStep.prog.FLOPs() }

// TrainStep implements Model: one discriminator update, then one generator update with
// fresh noise, each on the mean gradient of the micro-batches.
func (m *GAN) TrainStep(bs []*datasets.Batch, r *rng.RNG) (Metrics, error) {
	ms, grads, err := m.accD.step(bs, func(b *datasets.Batch) (Metrics, [][]float32, error) {
		return m.discriminatorPass(b, r)
	})
	if err != nil {
		return nil, err
	}
	m.optD.Update(grads)
	gms, grads, err := m.accG.step(bs, func(b *datasets.Batch) (Metrics, [][]float32, error) {
		return m.generatorPass(b.Valid, r)
	})
	if err != nil {
		return nil, err
	}
	m.optG.Update(grads)
	ms[1].Value = gms[0].Value
	return ms, nil
}

// discriminatorPass computes D's gradients on a real batch and as many generated images.
func (m *GAN) discriminatorPass(b *datasets.Batch, r *rng.RNG) (Metrics, [][]float32, error) {
	d := &m.dStep
	if err := graph.Feed(d.x, b.X); err != nil {
		return nil, nil, err
	}
	r.FillNormal(graph.Buffer(d.z))
	graph.MeanWeights(graph.Buffer(d.weight), b.Valid)
	m.fillMasks(d.g, r)
	if err := d.prog.Run(); err != nil {
		return nil, nil, err
	}
	return Metrics{{"d_loss", d.prog.Float(0)}, {"g_loss", 0},
		{"d_real", meanSigmoid(d.prog.Floats(1), b.Valid)}, {"d_fake", meanSigmoid(d.prog.Floats(2), b.Valid)}}, d.prog.Grads(), nil
}

// generatorPass computes G's gradients towards making D call its images real; D's
// weights carry the gradient but are not updated.
func (m *GAN) generatorPass(valid int, r *rng.RNG) (Metrics, [][]float32, error) {
	s := &m.gStep
	r.FillNormal(graph.Buffer(s.z))
	graph.MeanWeights(graph.Buffer(s.weight), valid)
	m.fillMasks(s.g, r)
	if err := s.prog.Run(); err != nil {
		return nil, nil, err
	}
	m.gMetrics[0].Value = s.prog.Float(0)
	return m.gMetrics, s.prog.Grads(), nil
}

// fillMasks draws the discriminator's dropout masks for a run of g.
func (m *GAN) fillMasks(g *G.ExprGraph, r *rng.RNG) {
	if d, ok := m.disc.(masked); ok {
		d.fillMasks(g, r)
	}
}

// meanSigmoid is the discriminator's mean probability of "real" over the first n logits.
func meanSigmoid(logits []float32, n int) float64 {
	var s float64
	for _, l := range logits[:n] {
		s += 1 / (1 + math.Exp(-float64(l)))
	}
	return s / float64(n)
}

func fill(dst []float32, v float32) {
	for i := range dst {
		dst[i] = v
	}
}

// Evaluate implements Model: the quality of eval_samples generated images against the
// held-out ones, by the embedded judge (see quality.go). Lower FID is better; it picks the
// best checkpoint.
func (m *GAN) Evaluate(ctx context.Context, s datasets.Stream, seed uint64) (Metrics, error) {
	if m.scorer == nil {
		pixels, n, err := heldOutPixels(ctx, s, -1, 1)
		if err != nil {
			return nil, err
		}
		if m.scorer, err = NewScorer(pixels, n, m.env); err != nil {
			return nil, err
		}
	}
	n := m.cfg.EvalSamples
	images, err := m.SampleImages(n, evalRNG(seed))
	if err != nil {
		return nil, err
	}
	q, err := m.scorer.Score(images, n)
	if err != nil {
		return nil, err
	}
	return Metrics{{"fid", q.FID}, {"is", q.IS}}, nil
}

// SampleImages implements ImageSampler: G(z) for z ~ N(0, I), mapped from [-1, 1] to [0, 1].
func (m *GAN) SampleImages(n int, r *rng.RNG) ([]float32, error) {
	if m.sampler == nil {
		var err error
		m.sampler, err = newChunked(inferenceChunk, m.cfg.Latent, func(z *G.Node) *G.Node {
			return m.gen.forward(z, false)
		})
		if err != nil {
			return nil, err
		}
	}
	z := make([]float32, n*m.cfg.Latent)
	r.FillNormal(z)
	out, err := m.sampler.run(z, n)
	if err != nil {
		return nil, err
	}
	for i, v := range out {
		out[i] = (v + 1) / 2
	}
	return out, nil
}

// Close implements Model.
func (m *GAN) Close() error {
	m.params.Release()
	for _, s := range []*ganStep{&m.dStep, &m.gStep} {
		if s.prog != nil {
			s.prog.Close()
		}
	}
	if m.sampler != nil {
		m.sampler.Close()
	}
	return nil
}

// The MLP GAN: G 100 → 256 → 256 → 784 (ReLU, ReLU, tanh), D 784 → 256 → 256 → 1 (leaky
// ReLU, or ReLU with leaky_slope 0, each followed by dropout, then a logit).

type mlpGenerator struct{ fc1, fc2, fc3 *graph.Linear }

func newMLPGenerator(ps *graph.Params, cfg *GANConfig, env Env, r *rng.RNG) *mlpGenerator {
	return &mlpGenerator{
		fc1: graph.NewLinear(ps, "generator.fc1", cfg.Latent, cfg.Hidden, r),
		fc2: graph.NewLinear(ps, "generator.fc2", cfg.Hidden, cfg.Hidden, r),
		fc3: graph.NewLinear(ps, "generator.fc3", cfg.Hidden, env.ImageH*env.ImageW, r),
	}
}

func (n *mlpGenerator) forward(z *G.Node, _ bool) *G.Node {
	return graph.Tanh(n.fc3.Forward(graph.ReLU(n.fc2.Forward(graph.ReLU(n.fc1.Forward(z))))))
}

type mlpDiscriminator struct {
	fc1, fc2, fc3 *graph.Linear
	slope         float64
	drop          *graph.Dropout
}

func newMLPDiscriminator(ps *graph.Params, cfg *GANConfig, env Env, r *rng.RNG) *mlpDiscriminator {
	return &mlpDiscriminator{
		fc1:   graph.NewLinear(ps, "discriminator.fc1", env.ImageH*env.ImageW, cfg.Hidden, r),
		fc2:   graph.NewLinear(ps, "discriminator.fc2", cfg.Hidden, cfg.Hidden, r),
		fc3:   graph.NewLinear(ps, "discriminator.fc3", cfg.Hidden, 1, r),
		slope: cfg.LeakySlope,
		drop:  graph.NewDropout(cfg.Dropout),
	}
}

func (n *mlpDiscriminator) forward(x *G.Node, training bool) *G.Node {
	h := n.drop.Forward(leaky(n.fc1.Forward(x), n.slope), training)
	h = n.drop.Forward(leaky(n.fc2.Forward(h), n.slope), training)
	return n.fc3.Forward(h)
}

func (n *mlpDiscriminator) fillMasks(g *G.ExprGraph, r *rng.RNG) { n.drop.Fill(g, r) }

// leaky is LeakyReLU, or ReLU for slope 0.
func leaky(x *G.Node, slope float64) *G.Node {
	if slope == 0 {
		return graph.ReLU(x)
	}
	return graph.LeakyReLU(x, slope)
}
