package models

import (
	"context"
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/graph"
	"github.com/aigc-go/aigc/internal/rng"
)

// The variational autoencoder of Kingma & Welling (2013), as in pytorch/examples/vae.
//
//	encoder  x ─fc1─ReLU─┬─fc21─ μ
//	                     └─fc22─ log σ²
//	sample   z = μ + σ·ε,  ε ~ N(0, I)       (the reparameterisation trick)
//	decoder  z ─fc3─ReLU─fc4─ logits of p(x|z)
//	loss     BCE(logits, x) summed over pixels + KL(q(z|x) ‖ N(0, I)), averaged per image

func init() {
	register(&Family{
		Name:       "vae",
		Summary:    "variational autoencoder (MLP encoder/decoder, BCE + KL) on MNIST-format images",
		Data:       Images,
		PixelRange: [2]float32{0, 1},
		NewConfig:  func() configs.Config { return &VAEConfig{} },
		Build: func(cfg configs.Config, env Env, r *rng.RNG) (Model, error) {
			return NewVAE(cfg.(*VAEConfig), env, r)
		},
	})
}

// VAEConfig is the VAE's configuration (configs/vae.yaml).
type VAEConfig struct {
	configs.Train `yaml:",inline"`
	Hidden        int `yaml:"hidden"`
	Latent        int `yaml:"latent"`
}

// Validate checks the config.
func (c *VAEConfig) Validate() error {
	switch {
	case c.Hidden <= 0:
		return fmt.Errorf("hidden must be > 0 (got %d)", c.Hidden)
	case c.Latent <= 0:
		return fmt.Errorf("latent must be > 0 (got %d)", c.Latent)
	}
	return c.Train.Validate()
}

// VAE is a built variational autoencoder.
type VAE struct {
	cfg                       *VAEConfig
	pixels                    int
	params                    *graph.Params
	fc1, fc21, fc22, fc3, fc4 *graph.Linear
	opt                       *graph.Adam
	acc                       accumulator

	// One training graph of batch size B: its loss and gradients compile into train, and
	// its per-image losses into eval, which shares its inputs. weight holds 1/Valid for
	// the batch's real rows and 0 for padding, so the loss is the mean over real images.
	x, eps, weight *G.Node
	train          *graph.Gradients
	eval           *graph.Program

	// Inference programs of a fixed chunk size, compiled on first use.
	encoder, decoder *chunked
}

// NewVAE builds the VAE's layers, initialised as PyTorch does, and compiles its programs.
func NewVAE(cfg *VAEConfig, env Env, r *rng.RNG) (*VAE, error) {
	m := &VAE{cfg: cfg, pixels: env.ImageH * env.ImageW, params: graph.NewParams()}
	if m.pixels <= 0 {
		return nil, fmt.Errorf("vae: image size %dx%d", env.ImageH, env.ImageW)
	}
	ps := m.params
	m.fc1 = graph.NewLinear(ps, "fc1", m.pixels, cfg.Hidden, r)
	m.fc21 = graph.NewLinear(ps, "fc21", cfg.Hidden, cfg.Latent, r)
	m.fc22 = graph.NewLinear(ps, "fc22", cfg.Hidden, cfg.Latent, r)
	m.fc3 = graph.NewLinear(ps, "fc3", cfg.Latent, cfg.Hidden, r)
	m.fc4 = graph.NewLinear(ps, "fc4", cfg.Hidden, m.pixels, r)
	m.opt = graph.NewAdam(ps.All(), graph.AdamConfig{LR: cfg.LR, Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps})
	m.acc = accumulate(ps, m.opt)
	if err := m.compile(); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

func (m *VAE) encode(x *G.Node) (mu, logvar *G.Node) {
	h := graph.ReLU(m.fc1.Forward(x))
	return m.fc21.Forward(h), m.fc22.Forward(h)
}

func (m *VAE) decode(z *G.Node) (logits *G.Node) {
	return m.fc4.Forward(graph.ReLU(m.fc3.Forward(z)))
}

func (m *VAE) compile() error {
	b := m.cfg.BatchSize
	g := G.NewGraph()
	return graph.Build(func() {
		m.x = graph.Input(g, "x", tensor.Float32, b, m.pixels)
		m.eps = graph.Input(g, "eps", tensor.Float32, b, m.cfg.Latent)
		m.weight = graph.Input(g, "weight", tensor.Float32, b)
		mu, logvar := m.encode(m.x)
		logits := m.decode(graph.Reparameterize(mu, logvar, m.eps))
		bce := graph.BCEWithLogits(logits, m.x) // per image
		kl := graph.GaussianKL(mu, logvar)      // per image
		perImage := graph.Add(bce, kl)
		mean := func(v *G.Node) *G.Node { return graph.Sum(graph.Mul(v, m.weight)) }

		var err error
		if m.train, err = graph.CompileGradients(mean(perImage), m.params.All(), mean(bce), mean(kl)); err != nil {
			panic(err)
		}
		if m.eval, err = graph.Compile(perImage, bce, kl); err != nil {
			panic(err)
		}
	})
}

// Params implements Model.
func (m *VAE) Params() *graph.Params { return m.params }

// Optimizers implements Model.
func (m *VAE) Optimizers() []*graph.Adam { return []*graph.Adam{m.opt} }

// StepFLOPs implements Model.
func (m *VAE) StepFLOPs() int64 { return m.train.FLOPs() }

// feed copies a batch, its row weights and fresh noise into the graph's inputs.
func (m *VAE) feed(b *datasets.Batch, r *rng.RNG) error {
	if err := graph.Feed(m.x, b.X); err != nil {
		return err
	}
	graph.MeanWeights(graph.Buffer(m.weight), b.Valid)
	r.FillNormal(graph.Buffer(m.eps))
	return nil
}

// TrainStep implements Model.
func (m *VAE) TrainStep(bs []*datasets.Batch, r *rng.RNG) (Metrics, error) {
	ms, grads, err := m.acc.step(bs, func(b *datasets.Batch) (Metrics, [][]float32, error) {
		if err := m.feed(b, r); err != nil {
			return nil, nil, err
		}
		if err := m.train.Run(); err != nil {
			return nil, nil, err
		}
		return Metrics{{"loss", m.train.Float(0)}, {"bce", m.train.Float(1)}, {"kl", m.train.Float(2)}}, m.train.Grads(), nil
	})
	if err != nil {
		return nil, err
	}
	m.opt.Update(grads)
	return ms, nil
}

// Evaluate implements Model: the negative ELBO per image with one sample of z, as the
// PyTorch example reports it, and its two terms.
func (m *VAE) Evaluate(ctx context.Context, s datasets.Stream, seed uint64) (Metrics, error) {
	return meanOverBatches(ctx, s, seed, m.cfg.GradAccumSteps, []string{"loss", "bce", "kl"}, m.evalSums)
}

// evalSums sums the loss terms over a batch's valid rows.
func (m *VAE) evalSums(b *datasets.Batch, r *rng.RNG) ([]float64, error) {
	if err := m.feed(b, r); err != nil {
		return nil, err
	}
	if err := m.eval.Run(); err != nil {
		return nil, err
	}
	sums := make([]float64, 3)
	for i := range sums {
		for _, v := range m.eval.Floats(i)[:b.Valid] {
			sums[i] += float64(v)
		}
	}
	return sums, nil
}

// inferenceChunk is the batch size of the sampling and reconstruction programs.
const inferenceChunk = 64

// SampleImages implements ImageSampler: decode z ~ N(0, I) and show each pixel's
// Bernoulli mean.
func (m *VAE) SampleImages(n int, r *rng.RNG) ([]float32, error) {
	z := make([]float32, n*m.cfg.Latent)
	r.FillNormal(z)
	return m.decodeMeans(z, n)
}

// Reconstruct implements Reconstructor, decoding each image's mean code μ.
func (m *VAE) Reconstruct(x []float32, n int) ([]float32, error) {
	mu, err := m.encodeMeans(x, n)
	if err != nil {
		return nil, err
	}
	return m.decodeMeans(mu, n)
}

// Interpolate implements Reconstructor: the codes on the segment from μ(a) to μ(b).
func (m *VAE) Interpolate(a, b []float32, steps int) ([]float32, error) {
	mu, err := m.encodeMeans(append(append([]float32(nil), a...), b...), 2)
	if err != nil {
		return nil, err
	}
	l := m.cfg.Latent
	z := make([]float32, steps*l)
	for s := range steps {
		t := float32(s) / float32(max(steps-1, 1))
		for j := range l {
			z[s*l+j] = (1-t)*mu[j] + t*mu[l+j]
		}
	}
	return m.decodeMeans(z, steps)
}

func (m *VAE) encodeMeans(x []float32, n int) ([]float32, error) {
	if m.encoder == nil {
		var err error
		m.encoder, err = newChunked(inferenceChunk, m.pixels, func(in *G.Node) *G.Node {
			mu, _ := m.encode(in)
			return mu
		})
		if err != nil {
			return nil, err
		}
	}
	return m.encoder.run(x, n)
}

func (m *VAE) decodeMeans(z []float32, n int) ([]float32, error) {
	if m.decoder == nil {
		var err error
		m.decoder, err = newChunked(inferenceChunk, m.cfg.Latent, func(in *G.Node) *G.Node {
			return graph.Sigmoid(m.decode(in))
		})
		if err != nil {
			return nil, err
		}
	}
	return m.decoder.run(z, n)
}

// Close implements Model.
func (m *VAE) Close() error {
	m.params.Release()
	if m.train != nil {
		m.train.Close()
	}
	if m.eval != nil {
		m.eval.Close()
	}
	if m.encoder != nil {
		m.encoder.Close()
	}
	if m.decoder != nil {
		m.decoder.Close()
	}
	return nil
}
