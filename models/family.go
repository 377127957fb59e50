// Package models holds aigc's model families. Each family registers itself with a name, its
// config type (defaults come from configs/<name>.yaml), the data it reads and a Build
// function; the trainer and the commands see only the interfaces below, never a family's
// internals. A family's file reads like a textbook page: its layers, its loss, its sampler.
package models

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/graph"
	"github.com/aigc-go/aigc/graph/exec"
	"github.com/aigc-go/aigc/internal/rng"
	"github.com/aigc-go/aigc/internal/words"
)

// DataKind says what a family trains on.
type DataKind string

const (
	Images DataKind = "images" // MNIST-format IDX image sets
	Text   DataKind = "text"   // a UTF-8 corpus, as token windows
	Pairs  DataKind = "pairs"  // sequence pairs: a generated task or a TSV file
)

// Family describes one model family.
type Family struct {
	Name    string
	Summary string // one line for `aigc models`
	Data    DataKind
	// PixelRange is where image pixels are scaled to: [0,1] for the VAE, [-1,1] for a GAN.
	PixelRange [2]float32
	// JudgeSamples is how many generated images `aigc eval` judges by default. A family
	// with a number here is evaluated by its samples alone (a GAN has no held-out loss).
	JudgeSamples int
	// NewConfig returns an empty config of the family's type; configs.Load fills it.
	NewConfig func() configs.Config
	// Build makes a model for a validated config. Parameters are initialised from r.
	Build func(cfg configs.Config, env Env, r *rng.RNG) (Model, error)
}

// LabelConfig is the config of a model that learns from labels: every label of its data
// must be below LabelClasses.
type LabelConfig interface {
	LabelClasses() int
}

// Env is what a model learns from its data rather than its config; it is stored in
// checkpoints so a model can be rebuilt without the data.
type Env struct {
	ImageH, ImageW int                // image families
	Tokenizer      datasets.Tokenizer // text families: learnt from the training split
	// Sequence-to-sequence families: the pairs' vocabulary and the longest source and
	// target (with <eos>) the model is built for.
	Vocab          *datasets.Vocab
	SrcLen, TgtLen int
}

// Bounds on what an Env may hold, whether it comes from data or from a checkpoint's
// metadata: larger images or sequences would not fit any machine's memory in these
// models (attention alone is batch x heads x T^2).
const (
	MaxImageSide = 4096
	MaxSeqLen    = 4096
	MaxVocab     = 1 << 20
)

// Check says which of env's sizes is beyond its bound, naming it as the checkpoint
// metadata does.
func (env Env) Check() error {
	vocab := 0
	if env.Vocab != nil {
		vocab = len(env.Vocab.Tokens)
	} else if env.Tokenizer != nil {
		vocab = env.Tokenizer.VocabSize()
	}
	for _, b := range []struct {
		what     string
		v, limit int
	}{{"image_h", env.ImageH, MaxImageSide}, {"image_w", env.ImageW, MaxImageSide},
		{"source length", env.SrcLen, MaxSeqLen}, {"target length (with <eos>)", env.TgtLen, MaxSeqLen + 1},
		{"vocabulary size", vocab, MaxVocab}} {
		if b.v < 0 || b.v > b.limit {
			return fmt.Errorf("%s %d is beyond the limit of %d", b.what, b.v, b.limit)
		}
	}
	return nil
}

// Metric is one named value a step reports.
type Metric struct {
	Name  string
	Value float64
}

// Metrics lists a step's values; the first is always the loss being minimised.
type Metrics []Metric

// String renders "loss 105.23 (bce 80.1, kl 25.13)".
func (ms Metrics) String() string {
	if len(ms) == 0 {
		return ""
	}
	s := fmt.Sprintf("%s %.5g", ms[0].Name, ms[0].Value)
	if len(ms) > 1 {
		parts := make([]string, 0, len(ms)-1)
		for _, m := range ms[1:] {
			parts = append(parts, fmt.Sprintf("%s %.5g", m.Name, m.Value))
		}
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	return s
}

// Get returns the named value, or false.
func (ms Metrics) Get(name string) (float64, bool) {
	for _, m := range ms {
		if m.Name == name {
			return m.Value, true
		}
	}
	return 0, false
}

// Model is a built model, as the trainer sees it.
type Model interface {
	// Params are the trainable parameters, named as in PyTorch's state_dict.
	Params() *graph.Params
	// Optimizers own disjoint subsets of Params; their state goes into checkpoints.
	Optimizers() []*graph.Adam
	// TrainStep takes one optimisation step on the mean gradient of its micro-batches
	// (grad_accum_steps of them; one without gradient accumulation), drawing any noise
	// from r, and reports the mean of their metrics.
	TrainStep(bs []*datasets.Batch, r *rng.RNG) (Metrics, error)
	// Evaluate measures the model on held-out data; the first metric is the one to
	// minimise (it picks the best checkpoint). Any noise comes from a stream of seed that
	// every evaluation restarts, so evaluations are comparable across epochs.
	Evaluate(ctx context.Context, s datasets.Stream, seed uint64) (Metrics, error)
	// StepFLOPs is the floating-point work of one TrainStep of one batch (matrix products
	// counted); a step of k micro-batches does k times as much.
	StepFLOPs() int64
	Close() error
}

// ImageSampler is a model that generates images.
type ImageSampler interface {
	// SampleImages returns n images, n×H×W pixels in [0,1].
	SampleImages(n int, r *rng.RNG) ([]float32, error)
}

// Reconstructor is a model that maps images back to images through its code.
type Reconstructor interface {
	// Reconstruct returns the reconstructions of n images (n×H×W, pixels in the family's
	// range), as n×H×W pixels in [0,1].
	Reconstruct(x []float32, n int) ([]float32, error)
	// Interpolate decodes `steps` points on the line between the codes of images a and b.
	Interpolate(a, b []float32, steps int) ([]float32, error)
}

var registry = map[string]*Family{}

// register adds a family; called from each family's init.
func register(f *Family) {
	if _, dup := registry[f.Name]; dup {
		panic("models: family registered twice: " + f.Name)
	}
	build := f.Build
	f.Build = func(cfg configs.Config, env Env, r *rng.RNG) (m Model, err error) {
		before := exec.Reserved()
		defer func() { // a parameter beyond the memory budget panics where it is made
			if r := recover(); r != nil {
				me, ok := r.(*exec.MemoryError)
				if !ok {
					panic(r)
				}
				m, err = nil, me
			}
			if err != nil { // what the failed model reserved is garbage now
				exec.Release(exec.Reserved() - before)
				err = fmt.Errorf("%s: %w%s", f.Name, err, f.sizeHint(cfg, env, err))
			}
		}()
		if err := env.Check(); err != nil {
			return nil, fmt.Errorf("the data's %w", err)
		}
		return build(cfg, env, r)
	}
	registry[f.Name] = f
}

// Lookup returns the named family.
func Lookup(name string) (*Family, error) {
	if f, ok := registry[name]; ok {
		return f, nil
	}
	hint := ""
	if best := words.Closest(name, Names()); best != "" {
		hint = fmt.Sprintf(" (did you mean %s?)", best)
	}
	return nil, fmt.Errorf("unknown model %q%s; the models are %s (aigc models describes them)", name, hint, words.List(Names()))
}

// Names lists the registered families, sorted.
func Names() []string {
	var names []string
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// sizeHint names, after a memory error, the integer keys set above their defaults (the
// likely cause), or the largest sizes of the config.
func (f *Family) sizeHint(cfg configs.Config, env Env, err error) string {
	var me *exec.MemoryError
	if !errors.As(err, &me) {
		return ""
	}
	def := f.NewConfig()
	if configs.Load(def, f.Name, "", nil) != nil {
		return ""
	}
	got, want := configs.Ints(cfg), configs.Ints(def)
	var above []string
	for _, k := range configs.Keys(cfg) {
		if v, ok := got[k]; ok && v > want[k] && v > 1 {
			above = append(above, fmt.Sprintf("%s=%d (default %d)", k, v, want[k]))
		}
	}
	if len(above) == 0 {
		return ": a smaller model or batch would fit" + env.sizes()
	}
	return ": reduce " + strings.Join(above, ", ")
}

// sizes describes the sizes env takes from the data, for a memory error's hint.
func (env Env) sizes() string {
	switch {
	case env.SrcLen > 0:
		return fmt.Sprintf(" (the data's sources are up to %d tokens, its targets up to %d)", env.SrcLen, env.TgtLen-1)
	case env.ImageH > 0:
		return fmt.Sprintf(" (the data's images are %dx%d)", env.ImageH, env.ImageW)
	}
	return ""
}
