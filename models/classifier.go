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

// A small convolutional MNIST classifier. Its job in aigc is to judge generated images:
// the 128 features before its last layer give a Fréchet distance between generated and
// real images (an FID for MNIST), its class probabilities an Inception Score and a class
// histogram (see quality.go). Trained weights ship in the binary (classifier.safetensors).
//
//	x [1,28,28] → Conv(1→c1, 3, pad 1) → BN → ReLU → MaxPool 2 → [c1,14,14]
//	            → Conv(c1→c2, 3, pad 1) → BN → ReLU → MaxPool 2 → [c2,7,7]
//	            → Linear(c2·7·7, hidden) → ReLU → features → Linear(hidden, 10) → logits
//	loss        softmax cross-entropy with the labels
//
// Training images are shifted by up to `augment` pixels each way, at random: the cheap
// augmentation that takes such a network past 99% on MNIST in a few epochs.

func init() {
	register(&Family{
		Name:       "classifier",
		Summary:    "convolutional MNIST classifier: the judge of generated images (FID, Inception Score)",
		Data:       Images,
		PixelRange: [2]float32{0, 1},
		NewConfig:  func() configs.Config { return &ClassifierConfig{} },
		Build: func(cfg configs.Config, env Env, r *rng.RNG) (Model, error) {
			return NewClassifier(cfg.(*ClassifierConfig), env, r)
		},
	})
}

// ClassifierConfig is the classifier's configuration (configs/classifier.yaml).
type ClassifierConfig struct {
	configs.Train `yaml:",inline"`
	Conv1         int `yaml:"conv1"`
	Conv2         int `yaml:"conv2"`
	Hidden        int `yaml:"hidden"`
	Classes       int `yaml:"classes"`
	Augment       int `yaml:"augment"`
}

// LabelClasses implements LabelConfig.
func (c *ClassifierConfig) LabelClasses() int { return c.Classes }

// Validate checks the config.
func (c *ClassifierConfig) Validate() error {
	for _, v := range []struct {
		name string
		n    int
	}{{"conv1", c.Conv1}, {"conv2", c.Conv2}, {"hidden", c.Hidden}, {"classes", c.Classes}} {
		if v.n <= 0 {
			return fmt.Errorf("%s must be > 0 (got %d)", v.name, v.n)
		}
	}
	if c.Augment < 0 || c.Augment > 8 {
		return fmt.Errorf("augment must be between 0 and 8 pixels (got %d)", c.Augment)
	}
	return c.Train.Validate()
}

// Classifier is a built classifier.
type Classifier struct {
	cfg          *ClassifierConfig
	env          Env
	params       *graph.Params
	conv1, conv2 *graph.Conv2D
	bn1, bn2     *graph.BatchNorm
	fc1, fc2     *graph.Linear
	opt          *graph.Adam
	acc          accumulator

	train, eval classifierStep
	shifted     []float32 // the augmented batch

	infer *chunked // features and probabilities, compiled on first use
}

// classifierStep is a compiled graph of batch size B with its inputs: the training step
// (batch statistics, gradients) or the evaluation (running statistics, per-row losses).
type classifierStep struct {
	x, labels, weight *G.Node
	prog              *graph.Program
	grads             *graph.Gradients
}

// NewClassifier builds the network, initialised as PyTorch does, and compiles its
// training and evaluation programs.
func NewClassifier(cfg *ClassifierConfig, env Env, r *rng.RNG) (*Classifier, error) {
	m, err := newClassifierNet(cfg, env, r)
	if err != nil {
		return nil, err
	}
	m.opt = graph.NewAdam(m.params.All(), graph.AdamConfig{LR: cfg.LR, Beta1: cfg.Beta1, Beta2: cfg.Beta2, Eps: cfg.Eps})
	m.acc = accumulate(m.params, m.opt)
	if err := m.compile(); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// newClassifierNet builds the network alone: the judge of generated images needs no
// training programs (their planned memory was most of a GAN run's).
func newClassifierNet(cfg *ClassifierConfig, env Env, r *rng.RNG) (*Classifier, error) {
	if env.ImageH%4 != 0 || env.ImageW%4 != 0 || env.ImageH <= 0 || env.ImageW <= 0 {
		return nil, fmt.Errorf("classifier: image sides must be positive multiples of 4 (got %dx%d)", env.ImageH, env.ImageW)
	}
	m := &Classifier{cfg: cfg, env: env, params: graph.NewParams()}
	ps := m.params
	flat := cfg.Conv2 * (env.ImageH / 4) * (env.ImageW / 4)
	m.conv1 = graph.NewConv2D(ps, "conv1", 1, cfg.Conv1, 3, 1, 1, r)
	m.bn1 = graph.NewBatchNorm(ps, "bn1", cfg.Conv1)
	m.conv2 = graph.NewConv2D(ps, "conv2", cfg.Conv1, cfg.Conv2, 3, 1, 1, r)
	m.bn2 = graph.NewBatchNorm(ps, "bn2", cfg.Conv2)
	m.fc1 = graph.NewLinear(ps, "fc1", flat, cfg.Hidden, r)
	m.fc2 = graph.NewLinear(ps, "fc2", cfg.Hidden, cfg.Classes, r)
	return m, nil
}

// features maps images [B, H·W] to the penultimate layer's activations [B, hidden].
func (m *Classifier) features(x *G.Node, training bool) *G.Node {
	b := x.Shape()[0]
	h := graph.Reshape(x, b, 1, m.env.ImageH, m.env.ImageW)
	h = graph.MaxPool2d(graph.ReLU(m.bn1.Forward(m.conv1.Forward(h), training)), 2, 2)
	h = graph.MaxPool2d(graph.ReLU(m.bn2.Forward(m.conv2.Forward(h), training)), 2, 2)
	return graph.ReLU(m.fc1.Forward(graph.Reshape(h, b, m.cfg.Conv2*(m.env.ImageH/4)*(m.env.ImageW/4))))
}

func (m *Classifier) compile() error {
	return graph.Build(func() {
		for _, training := range []bool{true, false} {
			s := &m.eval
			if training {
				s = &m.train
			}
			g, b := G.NewGraph(), m.cfg.BatchSize
			s.x = graph.Input(g, "x", tensor.Float32, b, m.env.ImageH*m.env.ImageW)
			s.labels = graph.Input(g, "labels", tensor.Float32, b)
			s.weight = graph.Input(g, "weight", tensor.Float32, b)
			logits := m.fc2.Forward(m.features(s.x, training))
			perRow := graph.SoftmaxCrossEntropy(logits, s.labels)
			var err error
			if training {
				s.grads, err = graph.CompileGradients(weighted(perRow, s.weight), m.params.All(), logits)
				s.prog = s.grads.Program
			} else {
				s.prog, err = graph.Compile(perRow, logits)
			}
			if err != nil {
				panic(err)
			}
		}
	})
}

// Params implements Model.
func (m *Classifier) Params() *graph.Params { return m.params }

// Optimizers implements Model.
func (m *Classifier) Optimizers() []*graph.Adam { return []*graph.Adam{m.opt} }

// StepFLOPs implements Model.
func (m *Classifier) StepFLOPs() int64 { return m.train.prog.FLOPs() }

func (s *classifierStep) feed(x []float32, b *datasets.Batch) error {
	if b.Labels == nil {
		return fmt.Errorf("classifier: the data set has no labels")
	}
	if err := graph.Feed(s.x, x); err != nil {
		return err
	}
	dst := graph.Buffer(s.labels)
	for i, l := range b.Labels {
		dst[i] = float32(l)
	}
	graph.MeanWeights(graph.Buffer(s.weight), b.Valid)
	return nil
}

// TrainStep implements Model.
func (m *Classifier) TrainStep(bs []*datasets.Batch, r *rng.RNG) (Metrics, error) {
	ms, grads, err := m.acc.step(bs, func(b *datasets.Batch) (Metrics, [][]float32, error) {
		x := b.X
		if m.cfg.Augment > 0 {
			m.shifted = shiftImages(m.shifted, b.X, b.Valid, m.env, m.cfg.Augment, r)
			x = m.shifted
		}
		s := &m.train
		if err := s.feed(x, b); err != nil {
			return nil, nil, err
		}
		if err := s.prog.Run(); err != nil {
			return nil, nil, err
		}
		correct := countCorrect(s.prog.Floats(1), b.Labels[:b.Valid], m.cfg.Classes)
		return Metrics{{"loss", s.prog.Float(0)}, {"accuracy", float64(correct) / float64(b.Valid)}}, s.grads.Grads(), nil
	})
	if err != nil {
		return nil, err
	}
	m.opt.Update(grads)
	return ms, nil
}

// shiftImages translates each of the first n images of x by a random whole number of
// pixels in [-maxShift, maxShift] along each axis, filling with zeros; other rows stay zero.
func shiftImages(dst, x []float32, n int, env Env, maxShift int, r *rng.RNG) []float32 {
	if len(dst) != len(x) {
		dst = make([]float32, len(x))
	}
	clear(dst)
	h, w := env.ImageH, env.ImageW
	for i := range n {
		dy, dx := r.IntN(2*maxShift+1)-maxShift, r.IntN(2*maxShift+1)-maxShift
		src, out := x[i*h*w:(i+1)*h*w], dst[i*h*w:(i+1)*h*w]
		for y := range h {
			sy := y - dy
			if sy < 0 || sy >= h {
				continue
			}
			for xx := range w {
				if sx := xx - dx; sx >= 0 && sx < w {
					out[y*w+xx] = src[sy*w+sx]
				}
			}
		}
	}
	return dst
}

// Evaluate implements Model: the mean cross-entropy and the accuracy on held-out images.
func (m *Classifier) Evaluate(ctx context.Context, s datasets.Stream, seed uint64) (Metrics, error) {
	e := &m.eval
	return meanOverBatches(ctx, s, seed, m.cfg.GradAccumSteps, []string{"loss", "accuracy"}, func(b *datasets.Batch, _ *rng.RNG) ([]float64, error) {
		if err := e.feed(b.X, b); err != nil {
			return nil, err
		}
		if err := e.prog.Run(); err != nil {
			return nil, err
		}
		var loss float64
		for _, v := range e.prog.Floats(0)[:b.Valid] {
			loss += float64(v)
		}
		correct := countCorrect(e.prog.Floats(1), b.Labels[:b.Valid], m.cfg.Classes)
		return []float64{loss, float64(correct)}, nil
	})
}

// countCorrect counts the rows whose largest logit is at their label.
func countCorrect(logits []float32, labels []int32, k int) int {
	n := 0
	for i, l := range labels {
		if argmax(logits[i*k:(i+1)*k]) == int(l) {
			n++
		}
	}
	return n
}

func argmax[T float32 | float64](v []T) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// Judge returns, for n images (n×H×W pixels in [0,1]), the penultimate features
// (n×hidden) and the class probabilities (n×classes).
func (m *Classifier) Judge(images []float32, n int) (features, probs []float32, err error) {
	if m.infer == nil {
		m.infer, err = newChunked(judgeChunk, m.env.ImageH*m.env.ImageW, func(x *G.Node) *G.Node {
			f := m.features(x, false)
			return graph.Join(1, f, graph.Softmax(m.fc2.Forward(f)))
		})
		if err != nil {
			return nil, nil, err
		}
	}
	both, err := m.infer.run(images, n)
	if err != nil {
		return nil, nil, err
	}
	h, k := m.cfg.Hidden, m.cfg.Classes
	features, probs = make([]float32, 0, n*h), make([]float32, 0, n*k)
	for i := range n {
		row := both[i*(h+k) : (i+1)*(h+k)]
		features = append(features, row[:h]...)
		probs = append(probs, row[h:]...)
	}
	return features, probs, nil
}

// judgeChunk is the batch size of the judging program (its memory grows with it: 64
// images take 31 MB, 250 took 120).
const judgeChunk = 64

// Close implements Model.
func (m *Classifier) Close() error {
	m.params.Release()
	for _, s := range []*classifierStep{&m.train, &m.eval} {
		if s.prog != nil {
			s.prog.Close()
		}
	}
	if m.infer != nil {
		m.infer.Close()
	}
	return nil
}
