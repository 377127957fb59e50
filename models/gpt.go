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

// GPT, the decoder-only Transformer (Radford et al. 2018), as nanoGPT writes it:
//
//	x     = wte[token] + wpe[position]                      [B·T, C]
//	block = x + attn(ln_1(x)),  then  x + mlp(ln_2(x))      n_layer times (pre-norm)
//	attn  = c_proj(causal multi-head attention(c_attn(x)))  c_attn makes q|k|v, [B·T, 3C]
//	mlp   = c_proj(GELU(c_fc(x)))                           4C hidden units
//	p     = softmax(ln_f(x)·wteᵀ)                           the output reuses the embedding
//
// trained with AdamW (weight decay on the matrices of the Linear layers only), a warm-up
// and cosine learning-rate decay, and gradient clipping, under nanoGPT's config names, so
// its recipes carry over. Parameters carry nanoGPT's names (transformer.h.0.attn.c_attn.weight).

func init() {
	register(&Family{
		Name:      "gpt",
		Summary:   "GPT: decoder-only Transformer language model (nanoGPT's) on a text corpus",
		Data:      Text,
		NewConfig: func() configs.Config { return &GPTConfig{} },
		Build: func(cfg configs.Config, env Env, r *rng.RNG) (Model, error) {
			return NewGPT(cfg.(*GPTConfig), env, r)
		},
	})
}

// GPTConfig is the GPT's configuration (configs/gpt.yaml), with nanoGPT's key names.
type GPTConfig struct {
	configs.Train `yaml:",inline"`
	configs.Text  `yaml:",inline"`
	NLayer        int     `yaml:"n_layer"`
	NHead         int     `yaml:"n_head"`
	NEmbd         int     `yaml:"n_embd"`
	Dropout       float64 `yaml:"dropout"`
	Bias          bool    `yaml:"bias"`
	MaxIters      int     `yaml:"max_iters" limit:"1000000000"`
	LRDecayIters  int     `yaml:"lr_decay_iters" limit:"1000000000"`
	EvalInterval  int     `yaml:"eval_interval" limit:"1000000000"`
	EvalIters     int     `yaml:"eval_iters" limit:"1000000"`
	WeightDecay   float64 `yaml:"weight_decay"`
}

// Resolve implements configs.Resolver: training runs max_iters steps in "epochs" of
// eval_interval steps (an evaluation and a checkpoint after each, and one at the end),
// and the learning rate decays over lr_decay_iters.
func (c *GPTConfig) Resolve() {
	if c.EvalInterval > 0 {
		c.Epochs = (c.MaxIters + c.EvalInterval - 1) / c.EvalInterval
	}
	c.DecaySteps = c.LRDecayIters
}

// StepsPerEpoch is eval_interval: the optimiser steps between two evaluations, the
// training stream's "epoch".
func (c *GPTConfig) StepsPerEpoch() int { return c.EvalInterval }

// Iterations implements configs.Iterative: a run is max_iters optimiser steps, as in
// nanoGPT, whatever eval_interval is.
func (c *GPTConfig) Iterations() int { return c.MaxIters }

// EvalBatches is eval_iters: the random validation batches of each evaluation during
// training (nanoGPT's estimate_loss). `aigc eval gpt` scores the whole split instead.
func (c *GPTConfig) EvalBatches() int { return c.EvalIters }

// Validate checks the config.
func (c *GPTConfig) Validate() error {
	switch {
	case c.NLayer <= 0 || c.NHead <= 0 || c.NEmbd <= 0:
		return fmt.Errorf("n_layer, n_head and n_embd must be > 0 (got %d, %d, %d)", c.NLayer, c.NHead, c.NEmbd)
	case c.NEmbd%c.NHead != 0:
		return fmt.Errorf("n_head (%d) must divide n_embd (%d)", c.NHead, c.NEmbd)
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return fmt.Errorf("dropout must be in [0, 1) (got %g)", c.Dropout)
	case c.MaxIters <= 0 || c.EvalInterval <= 0:
		return fmt.Errorf("max_iters and eval_interval must be > 0 (got %d, %d)", c.MaxIters, c.EvalInterval)
	case c.LRDecayIters < 0 || c.EvalIters < 0:
		return fmt.Errorf("lr_decay_iters and eval_iters must be >= 0 (got %d, %d)", c.LRDecayIters, c.EvalIters)
	case !(c.WeightDecay >= 0):
		return fmt.Errorf("weight_decay must be >= 0 (got %g)", c.WeightDecay)
	}
	if err := c.Text.Validate(); err != nil {
		return err
	}
	return c.Train.Validate()
}

// GPT is a built GPT with its programs.
type GPT struct {
	cfg    *GPTConfig
	env    Env
	params *graph.Params
	opt    *graph.Adam
	acc    accumulator

	wte, wpe *graph.Embedding
	blocks   []*gptBlock
	lnF      *graph.LayerNormLayer
	drop     *graph.Dropout

	train, eval *gptWindow
	trainProg   *graph.Gradients
	evalProg    *graph.Program
	step        *gptStep
	full        *gptWindow     // one sequence of block_size tokens, for sampling past the cache
	fullProg    *graph.Program // its logits
	scratch     []tokenProb
}

type gptBlock struct {
	ln1, ln2        *graph.LayerNormLayer
	cAttn, attnProj *graph.Linear
	cFc, mlpProj    *graph.Linear
}

// NewGPT builds a GPT for the tokeniser in env, initialised as nanoGPT does: N(0, 0.02)
// weights, the residual projections scaled down by √(2·n_layer), zero biases.
func NewGPT(cfg *GPTConfig, env Env, r *rng.RNG) (*GPT, error) {
	if env.Tokenizer == nil {
		return nil, fmt.Errorf("gpt: no tokenizer")
	}
	v, c := env.Tokenizer.VocabSize(), cfg.NEmbd
	ps := graph.NewParams()
	m := &GPT{cfg: cfg, env: env, params: ps, drop: graph.NewDropout(cfg.Dropout)}
	m.wte = graph.NewEmbedding(ps, "transformer.wte", v, c, r)
	m.wpe = graph.NewEmbedding(ps, "transformer.wpe", cfg.BlockSize, c, r)
	linear := func(name string, in, out int) *graph.Linear {
		if cfg.Bias {
			return graph.NewLinear(ps, name, in, out, r)
		}
		return graph.NewLinearNoBias(ps, name, in, out, r)
	}
	for i := range cfg.NLayer {
		p := fmt.Sprintf("transformer.h.%d.", i)
		m.blocks = append(m.blocks, &gptBlock{
			ln1:      graph.NewLayerNorm(ps, p+"ln_1", c, cfg.Bias),
			cAttn:    linear(p+"attn.c_attn", c, 3*c),
			attnProj: linear(p+"attn.c_proj", c, c),
			ln2:      graph.NewLayerNorm(ps, p+"ln_2", c, cfg.Bias),
			cFc:      linear(p+"mlp.c_fc", c, 4*c),
			mlpProj:  linear(p+"mlp.c_proj", 4*c, c),
		})
	}
	m.lnF = graph.NewLayerNorm(ps, "transformer.ln_f", c, cfg.Bias)
	m.initWeights(r)

	tc := cfg.TrainConfig()
	m.opt = graph.NewAdam(ps.All(), graph.AdamConfig{LR: tc.LR, Beta1: tc.Beta1, Beta2: tc.Beta2, Eps: tc.Eps,
		WeightDecay: cfg.WeightDecay, Decays: m.decays})
	m.acc = accumulate(ps, m.opt)
	if err := m.compile(); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

func (m *GPT) initWeights(r *rng.RNG) {
	resid := 0.02 / math.Sqrt(2*float64(m.cfg.NLayer))
	graph.Normal(m.wte.Weight, 0, 0.02, r)
	graph.Normal(m.wpe.Weight, 0, 0.02, r)
	for _, b := range m.blocks {
		for _, l := range []*graph.Linear{b.cAttn, b.attnProj, b.cFc, b.mlpProj} {
			std := 0.02
			if l == b.attnProj || l == b.mlpProj {
				std = resid
			}
			graph.Normal(l.Weight, 0, std, r)
			if l.Bias != nil {
				graph.Fill(l.Bias, 0)
			}
		}
	}
}

// decays selects the weights AdamW decays: the Linear layers' matrices, not biases, norms
// or embeddings.
func (m *GPT) decays(p *graph.Param) bool {
	for _, b := range m.blocks {
		for _, l := range []*graph.Linear{b.cAttn, b.attnProj, b.cFc, b.mlpProj} {
			if p == l.Weight {
				return true
			}
		}
	}
	return false
}

// forward returns the logits [B·T, V] for ids and positions [B·T] (sequence-major).
func (m *GPT) forward(ids, pos *G.Node, rows, steps int, training bool) *G.Node {
	g := ids.Graph()
	x := m.drop.Forward(graph.Add(m.wte.Forward(ids), m.wpe.Forward(pos)), training)
	a := graph.Attention{Heads: m.cfg.NHead, Dim: m.cfg.NEmbd, Tq: steps, Tk: steps,
		KOff: m.cfg.NEmbd, VOff: 2 * m.cfg.NEmbd, Causal: true}
	for _, b := range m.blocks {
		qkv := b.cAttn.Forward(b.ln1.Forward(x))
		probs := m.drop.Forward(a.Probs(qkv, qkv, nil), training)
		x = graph.Add(x, m.drop.Forward(b.attnProj.Forward(a.Apply(probs, qkv)), training))
		h := b.mlpProj.Forward(graph.GELU(b.cFc.Forward(b.ln2.Forward(x))))
		x = graph.Add(x, m.drop.Forward(h, training))
	}
	return must2(graph.MatMul(m.lnF.Forward(x), m.wte.Weight.Node(g), false, true))
}

func must2(n *G.Node, err error) *G.Node {
	if err != nil {
		panic(err)
	}
	return n
}

// gptWindow is a compiled forward pass over [rows, steps] tokens with its inputs.
type gptWindow struct {
	g                *G.ExprGraph
	rows, steps      int
	ids, pos         *G.Node // [rows·steps], sequence-major
	targets, weights *G.Node
}

func newGPTWindow(rows, steps int) *gptWindow {
	w := &gptWindow{g: G.NewGraph(), rows: rows, steps: steps}
	n := rows * steps
	w.ids = graph.Input(w.g, "ids", tensor.Float32, n)
	w.pos = graph.Input(w.g, "pos", tensor.Float32, n)
	w.targets = graph.Input(w.g, "targets", tensor.Float32, n)
	w.weights = graph.Input(w.g, "weights", tensor.Float32, n)
	pos := graph.Buffer(w.pos)
	for i := range pos {
		pos[i] = float32(i % steps)
	}
	return w
}

// feed copies a token batch in, weights scaled to sum to 1 when mean; it returns the
// number of real targets.
func (w *gptWindow) feed(b *datasets.Batch, mean bool) (int, error) {
	if err := checkTokenBatch(b, w.rows, w.steps); err != nil {
		return 0, err
	}
	t1 := w.steps + 1
	ids, tg, wt := graph.Buffer(w.ids), graph.Buffer(w.targets), graph.Buffer(w.weights)
	n, scale := lossWeights(b.Weights, mean)
	for r := range w.rows {
		for t := range w.steps {
			ids[r*w.steps+t] = float32(b.Tokens[r*t1+t])
			tg[r*w.steps+t] = float32(b.Tokens[r*t1+t+1])
			wt[r*w.steps+t] = b.Weights[r*w.steps+t] * scale
		}
	}
	return n, nil
}

func (m *GPT) compile() error {
	rows, steps := m.cfg.BatchSize, m.cfg.BlockSize
	return graph.Build(func() {
		m.train = newGPTWindow(rows, steps)
		logits := m.forward(m.train.ids, m.train.pos, rows, steps, true)
		loss := graph.Sum(graph.Mul(graph.SoftmaxCrossEntropy(logits, m.train.targets), m.train.weights))
		var err error
		if m.trainProg, err = graph.CompileGradients(loss, m.params.All()); err != nil {
			panic(err)
		}
		m.eval = newGPTWindow(rows, steps)
		logits = m.forward(m.eval.ids, m.eval.pos, rows, steps, false)
		if m.evalProg, err = graph.Compile(graph.Mul(graph.SoftmaxCrossEntropy(logits, m.eval.targets), m.eval.weights)); err != nil {
			panic(err)
		}
	})
}

func (m *GPT) Params() *graph.Params         { return m.params }
func (m *GPT) Optimizers() []*graph.Adam     { return []*graph.Adam{m.opt} }
func (m *GPT) StepFLOPs() int64              { return m.trainProg.FLOPs() }
func (m *GPT) Tokenizer() datasets.Tokenizer { return m.env.Tokenizer }

// TrainStep implements Model.
func (m *GPT) TrainStep(bs []*datasets.Batch, r *rng.RNG) (Metrics, error) {
	ms, grads, err := m.acc.step(bs, func(b *datasets.Batch) (Metrics, [][]float32, error) {
		if _, err := m.train.feed(b, true); err != nil {
			return nil, nil, err
		}
		m.drop.Fill(m.train.g, r)
		if err := m.trainProg.Run(); err != nil {
			return nil, nil, err
		}
		return Metrics{{"loss", m.trainProg.Float(0)}, {"grad_norm", 0}}, m.trainProg.Grads(), nil
	})
	if err != nil {
		return nil, err
	}
	ms[1].Value = m.opt.Clipped(grads, m.cfg.Clip) // the norm of the step's gradient, not a mean
	return ms, nil
}

// Evaluate implements Model: the mean cross-entropy over the stream's targets (random
// validation batches during training, the whole split in `aigc eval`), with perplexity
// and bits per character.
func (m *GPT) Evaluate(ctx context.Context, s datasets.Stream, seed uint64) (Metrics, error) {
	return evaluateTokens(ctx, s, func(b *datasets.Batch) (int, []float32, error) {
		k, err := m.eval.feed(b, false)
		if err != nil {
			return 0, nil, err
		}
		if err := m.evalProg.Run(); err != nil {
			return 0, nil, err
		}
		return k, m.evalProg.Floats(0), nil
	})
}

func (m *GPT) Close() error {
	m.params.Release()
	if m.trainProg != nil {
		m.trainProg.Close()
	}
	if m.evalProg != nil {
		m.evalProg.Close()
	}
	if m.step != nil {
		m.step.prog.Close()
	}
	if m.fullProg != nil {
		m.fullProg.Close()
	}
	return nil
}

// gptStep is the one-token program of sampling with a key/value cache: each layer's keys
// and values of the positions so far are inputs ([block, 2C], k|v), the new token's are
// written into them, and the updated caches come out for the next token.
type gptStep struct {
	id, pos, mask *G.Node
	caches        []*G.Node
	prog          *graph.Program
}

func (m *GPT) compileStep() error {
	c, block := m.cfg.NEmbd, m.cfg.BlockSize
	s := &gptStep{}
	err := graph.Build(func() {
		g := G.NewGraph()
		s.id = graph.Input(g, "id", tensor.Float32, 1)
		s.pos = graph.Input(g, "pos", tensor.Float32, 1)
		s.mask = graph.Input(g, "mask", tensor.Float32, 1, block)
		x := graph.Add(m.wte.Forward(s.id), m.wpe.Forward(s.pos))
		a := graph.Attention{Heads: m.cfg.NHead, Dim: c, Tq: 1, Tk: block, KOff: 0, VOff: c}
		outs := []*G.Node{nil}
		for i, b := range m.blocks {
			cache := graph.Input(g, fmt.Sprintf("cache_%d", i), tensor.Float32, block, 2*c)
			s.caches = append(s.caches, cache)
			qkv := b.cAttn.Forward(b.ln1.Forward(x))
			kv := graph.CacheWrite(cache, qkv, s.pos, c)
			x = graph.Add(x, b.attnProj.Forward(a.Apply(a.Probs(qkv, kv, s.mask), kv)))
			x = graph.Add(x, b.mlpProj.Forward(graph.GELU(b.cFc.Forward(b.ln2.Forward(x)))))
			outs = append(outs, kv)
		}
		outs[0] = must2(graph.MatMul(m.lnF.Forward(x), m.wte.Weight.Node(g), false, true))
		var err error
		if s.prog, err = graph.Compile(outs...); err != nil {
			panic(err)
		}
	})
	m.step = s
	return err
}

// run feeds token id at position pos (attending to positions 0..pos) and returns its logits.
func (s *gptStep) run(id int32, pos int) ([]float32, error) {
	graph.Buffer(s.id)[0] = float32(id)
	graph.Buffer(s.pos)[0] = float32(pos)
	mask := graph.Buffer(s.mask)
	for j := range mask {
		mask[j] = 0
		if j <= pos {
			mask[j] = 1
		}
	}
	if err := s.prog.Run(); err != nil {
		return nil, err
	}
	for i, c := range s.caches {
		copy(graph.Buffer(c), s.prog.Floats(1+i))
	}
	return s.prog.Floats(0), nil
}

// Generate implements TextGenerator: the prompt and the tokens drawn go through the
// key/value cache, one one-token run each, until the context holds block_size tokens.
// From then on, as nanoGPT crops its context, each token comes from one full pass over the
// last block_size tokens (positions are absolute, so a cache cannot slide).
func (m *GPT) Generate(prompt []int32, n int, o SampleOptions, r *rng.RNG, emit func(int32) error) error {
	if len(prompt) == 0 {
		return fmt.Errorf("generate: empty prompt")
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if m.step == nil {
		if err := m.compileStep(); err != nil {
			return err
		}
		m.scratch = make([]tokenProb, m.env.Tokenizer.VocabSize())
	}
	block := m.cfg.BlockSize
	ctx := append([]int32(nil), prompt...)
	var logits []float32
	var err error
	if len(ctx) >= block {
		ctx = ctx[len(ctx)-block:]
		logits, err = m.window(ctx)
	} else {
		for _, c := range m.step.caches {
			clear(graph.Buffer(c))
		}
		for i, id := range ctx {
			if logits, err = m.step.run(id, i); err != nil {
				return err
			}
		}
	}
	if err != nil {
		return err
	}
	for range n {
		next := pickToken(logits, o, r, m.scratch)
		if err := emit(next); err != nil {
			return err
		}
		if len(ctx) < block {
			ctx = append(ctx, next)
			logits, err = m.step.run(next, len(ctx)-1)
		} else {
			ctx = append(ctx[1:], next)
			logits, err = m.window(ctx)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// window returns the logits after a full context of block_size tokens.
func (m *GPT) window(ctx []int32) ([]float32, error) {
	block := m.cfg.BlockSize
	if m.fullProg == nil {
		err := graph.Build(func() {
			m.full = newGPTWindow(1, block)
			var err error
			if m.fullProg, err = graph.Compile(m.forward(m.full.ids, m.full.pos, 1, block, false)); err != nil {
				panic(err)
			}
		})
		if err != nil {
			return nil, err
		}
	}
	ids := graph.Buffer(m.full.ids)
	for i, id := range ctx {
		ids[i] = float32(id)
	}
	if err := m.fullProg.Run(); err != nil {
		return nil, err
	}
	v := m.env.Tokenizer.VocabSize()
	return m.fullProg.Floats(0)[(block-1)*v:], nil
}
