package models

import (
	"context"
	"fmt"
	"math"
	"sort"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/graph"
	"github.com/aigc-go/aigc/internal/rng"
)

// A language model learns p(token | the tokens before it) and is trained on windows of
// block_size tokens with the mean cross-entropy of its predictions (nats per token). This
// file holds what the recurrent families (rnn.go, lstm.go) share: feeding windows,
// truncated backpropagation through time, gradient clipping, evaluation and sampling.

// TextConfig is the config of a language model.
type TextConfig interface {
	configs.Config
	TextConfig() *configs.Text
}

// TextGenerator is a model that writes text.
type TextGenerator interface {
	Tokenizer() datasets.Tokenizer
	// Generate continues prompt (at least one token) by n tokens, calling emit with each
	// new token as soon as it is drawn.
	Generate(prompt []int32, n int, o SampleOptions, r *rng.RNG, emit func(id int32) error) error
}

// SampleOptions shape the next-token distribution before a token is drawn from it.
type SampleOptions struct {
	Temperature float64 // logits are divided by it; 0 picks the likeliest token (greedy)
	TopK        int     // keep only the k likeliest tokens; 0: all
	TopP        float64 // keep the smallest set of likeliest tokens whose probability reaches p; 0 or 1: all
}

// Validate checks the options.
func (o SampleOptions) Validate() error {
	switch {
	case !(o.Temperature >= 0) || math.IsInf(o.Temperature, 0):
		return fmt.Errorf("--temperature must be >= 0 (got %g)", o.Temperature)
	case o.TopK < 0:
		return fmt.Errorf("--top-k must be >= 0 (got %d)", o.TopK)
	case !(o.TopP >= 0 && o.TopP <= 1):
		return fmt.Errorf("--top-p must be in [0, 1] (got %g)", o.TopP)
	}
	return nil
}

// pickToken draws a token from logits shaped by o, using scratch (len(logits)) for work.
func pickToken(logits []float32, o SampleOptions, r *rng.RNG, scratch []tokenProb) int32 {
	if o.Temperature == 0 {
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		return int32(best)
	}
	ps := scratch[:len(logits)]
	for i, v := range logits {
		ps[i] = tokenProb{int32(i), float64(v) / o.Temperature}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].p > ps[j].p || ps[i].p == ps[j].p && ps[i].id < ps[j].id })
	if o.TopK > 0 && o.TopK < len(ps) {
		ps = ps[:o.TopK]
	}
	top, sum := ps[0].p, 0.0
	for i := range ps {
		ps[i].p = math.Exp(ps[i].p - top)
		sum += ps[i].p
	}
	if o.TopP > 0 && o.TopP < 1 {
		acc := 0.0
		for i := range ps {
			acc += ps[i].p / sum
			if acc >= o.TopP {
				ps = ps[:i+1]
				break
			}
		}
		sum = 0
		for _, t := range ps {
			sum += t.p
		}
	}
	u := r.Float64() * sum
	for _, t := range ps {
		if u -= t.p; u < 0 {
			return t.id
		}
	}
	return ps[len(ps)-1].id
}

type tokenProb struct {
	id int32
	p  float64
}

// recurrentNet is what differs between the recurrent families: the cell, unrolled.
type recurrentNet interface {
	// stateWidths lists the widths of the [rows, width] states carried from step to step (the RNN's h;
	// each LSTM layer's h and c), for batch rows.
	stateWidths() []int
	// unroll applies the network to a window: ids[t] holds the step-t token ids ([B], as
	// floats) and s0 the states before step 0. It returns the logits of every step stacked
	// time-major, [T·B, V] (row t·B+b is row b at step t), and the states after the last step.
	unroll(ids, s0 []*G.Node, training bool) (logits *G.Node, sT []*G.Node)
	fillMasks(g *G.ExprGraph, r *rng.RNG)
}

// window is a compiled unrolled network with its inputs.
type window struct {
	g                *G.ExprGraph
	rows, steps      int
	ids              []*G.Node // [rows] per step
	targets, weights *G.Node   // [steps·rows], time-major
	s0               []*G.Node // initial states
	nStates          int
}

func newWindow(net recurrentNet, rows, steps int) *window {
	w := &window{g: G.NewGraph(), rows: rows, steps: steps}
	for t := range steps {
		w.ids = append(w.ids, graph.Input(w.g, fmt.Sprintf("ids_%d", t), tensor.Float32, rows))
	}
	w.targets = graph.Input(w.g, "targets", tensor.Float32, steps*rows)
	w.weights = graph.Input(w.g, "weights", tensor.Float32, steps*rows)
	for i, width := range net.stateWidths() {
		w.s0 = append(w.s0, graph.Input(w.g, fmt.Sprintf("state_%d", i), tensor.Float32, rows, width))
	}
	w.nStates = len(w.s0)
	return w
}

// feed copies a token batch into the inputs: ids and targets time-major, and weights
// scaled to sum to 1 (or the raw 0/1 weights when mean is false). It returns the number
// of real targets.
func (w *window) feed(b *datasets.Batch, mean bool) (int, error) {
	if err := checkTokenBatch(b, w.rows, w.steps); err != nil {
		return 0, err
	}
	t1 := w.steps + 1
	tg, wt := graph.Buffer(w.targets), graph.Buffer(w.weights)
	n, scale := lossWeights(b.Weights, mean)
	for t := range w.steps {
		ids := graph.Buffer(w.ids[t])
		for r := range w.rows {
			ids[r] = float32(b.Tokens[r*t1+t])
			tg[t*w.rows+r] = float32(b.Tokens[r*t1+t+1])
			wt[t*w.rows+r] = b.Weights[r*w.steps+t] * scale
		}
	}
	return n, nil
}

// checkTokenBatch checks that a token batch has the rows and window a model was built for.
func checkTokenBatch(b *datasets.Batch, rows, steps int) error {
	if b.Rows != rows || len(b.Tokens) != b.Rows*(steps+1) {
		return fmt.Errorf("token batch of %d rows × %d, the model wants %d × %d",
			b.Rows, len(b.Tokens)/max(b.Rows, 1)-1, rows, steps)
	}
	return nil
}

// lossWeights counts the real targets among per-target weights (1 real, 0 padding) and
// returns the factor that makes the weighted sum of losses their mean (1/n), or 1 when
// mean is false (evaluation sums the losses itself).
func lossWeights(weights []float32, mean bool) (n int, scale float32) {
	for _, v := range weights {
		if v != 0 {
			n++
		}
	}
	if mean && n > 0 {
		return n, 1 / float32(n)
	}
	return n, 1
}

// recurrentLM is a recurrent language model: a net, its training, evaluation and sampling
// programs, and the state it carries between windows.
type recurrentLM struct {
	text   *configs.Text
	tc     *configs.Train
	carry  bool // carry_state: windows continue the previous batch's rows
	env    Env
	params *graph.Params
	net    recurrentNet
	opt    *graph.Adam
	acc    accumulator

	train, eval, step  *window
	trainProg          *graph.Gradients
	evalProg, stepProg *graph.Program
	carried            []*graph.Param // carry_state: the states after the last training window
	scratch            []tokenProb
}

func newRecurrentLM(cfg TextConfig, carry bool, env Env, params *graph.Params, net recurrentNet) (*recurrentLM, error) {
	if env.Tokenizer == nil {
		return nil, fmt.Errorf("a language model needs a tokenizer")
	}
	tc := cfg.TrainConfig()
	m := &recurrentLM{text: cfg.TextConfig(), tc: tc, carry: carry, env: env, params: params, net: net,
		opt: graph.NewAdam(params.All(), graph.AdamConfig{LR: tc.LR, Beta1: tc.Beta1, Beta2: tc.Beta2, Eps: tc.Eps})}
	m.acc = accumulate(params, m.opt)
	if carry {
		// Buffers, so that a checkpoint holds them and a resumed run continues exactly.
		for i, width := range net.stateWidths() {
			m.carried = append(m.carried, params.NewBuffer(fmt.Sprintf("carry.state_%d", i), tc.BatchSize, width))
		}
	}
	err := graph.Build(func() {
		m.train = newWindow(net, tc.BatchSize, m.text.BlockSize)
		logits, sT := net.unroll(m.train.ids, m.train.s0, true)
		perToken := graph.SoftmaxCrossEntropy(logits, m.train.targets)
		loss := graph.Sum(graph.Mul(perToken, m.train.weights))
		var err error
		if m.trainProg, err = graph.CompileGradients(loss, params.All(), sT...); err != nil {
			panic(err)
		}
		m.eval = newWindow(net, tc.BatchSize, m.text.BlockSize)
		logits, _ = net.unroll(m.eval.ids, m.eval.s0, false)
		if m.evalProg, err = graph.Compile(graph.Mul(graph.SoftmaxCrossEntropy(logits, m.eval.targets), m.eval.weights)); err != nil {
			panic(err)
		}
	})
	if err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

func (m *recurrentLM) Params() *graph.Params         { return m.params }
func (m *recurrentLM) Optimizers() []*graph.Adam     { return []*graph.Adam{m.opt} }
func (m *recurrentLM) StepFLOPs() int64              { return m.trainProg.FLOPs() }
func (m *recurrentLM) Tokenizer() datasets.Tokenizer { return m.env.Tokenizer }
func (m *recurrentLM) vocab() int                    { return m.env.Tokenizer.VocabSize() }

// TrainStep implements Model: truncated backpropagation through one window, gradients
// clipped to grad_clip, one Adam step.
func (m *recurrentLM) TrainStep(bs []*datasets.Batch, r *rng.RNG) (Metrics, error) {
	ms, grads, err := m.acc.step(bs, func(b *datasets.Batch) (Metrics, [][]float32, error) {
		if _, err := m.train.feed(b, true); err != nil {
			return nil, nil, err
		}
		for i, s := range m.train.s0 {
			buf := graph.Buffer(s)
			if m.carry && b.Index > 0 {
				copy(buf, m.carried[i].Data())
			} else {
				clear(buf)
			}
		}
		m.net.fillMasks(m.train.g, r)
		if err := m.trainProg.Run(); err != nil {
			return nil, nil, err
		}
		if m.carry { // the next window, in this step or the next, goes on from here
			for i, p := range m.carried {
				copy(p.Data(), m.trainProg.Floats(1+i))
			}
		}
		return Metrics{{"loss", m.trainProg.Float(0)}, {"grad_norm", 0}}, m.trainProg.Grads(), nil
	})
	if err != nil {
		return nil, err
	}
	ms[1].Value = m.opt.Clipped(grads, m.text.Clip) // the norm of the step's gradient, not a mean
	return ms, nil
}

// Evaluate implements Model: the mean cross-entropy over every target of the stream (a
// sweep of the validation split, each window from zero state), with perplexity and bits
// per character.
func (m *recurrentLM) Evaluate(ctx context.Context, s datasets.Stream, seed uint64) (Metrics, error) {
	return evaluateTokens(ctx, s, func(b *datasets.Batch) (int, []float32, error) {
		k, err := m.eval.feed(b, false)
		if err != nil {
			return 0, nil, err
		}
		for _, st := range m.eval.s0 {
			clear(graph.Buffer(st))
		}
		if err := m.evalProg.Run(); err != nil {
			return 0, nil, err
		}
		return k, m.evalProg.Floats(0), nil
	})
}

// evaluateTokens sums the per-token losses that score returns for each batch of an epoch
// of s (weighted: zero for padding) and reports their mean per target with lmMetrics.
func evaluateTokens(ctx context.Context, s datasets.Stream, score func(*datasets.Batch) (int, []float32, error)) (Metrics, error) {
	totals := make([]float64, 2)           // the losses' sum, and the targets
	ctx, cancel := context.WithCancel(ctx) // stops the stream's producer on an early return
	defer cancel()
	for b := range ownBatches(ctx, s) {
		k, losses, err := score(b)
		for _, v := range losses {
			totals[0] += float64(v)
		}
		b.Release()
		if err != nil {
			return nil, err
		}
		totals[1] += float64(k)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := addRanks(totals); err != nil {
		return nil, err
	}
	if totals[1] == 0 {
		return nil, fmt.Errorf("evaluation: no targets")
	}
	return lmMetrics(totals[0]/totals[1], s), nil
}

// lmMetrics reports a mean loss in nats per token with its perplexity and bits per
// character (through the stream's characters per token).
func lmMetrics(loss float64, s datasets.Stream) Metrics {
	charsPerToken := 1.0
	if c, ok := s.(interface{ CharsPerToken() float64 }); ok {
		charsPerToken = c.CharsPerToken()
	}
	return Metrics{{"loss", loss}, {"ppl", math.Exp(loss)}, {"bpc", loss / math.Ln2 / charsPerToken}}
}

// Generate implements TextGenerator: the prompt is run through the network one token at a
// time, then each drawn token is fed back in.
func (m *recurrentLM) Generate(prompt []int32, n int, o SampleOptions, r *rng.RNG, emit func(int32) error) error {
	if len(prompt) == 0 {
		return fmt.Errorf("generate: empty prompt")
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if m.stepProg == nil {
		err := graph.Build(func() {
			m.step = newWindow(m.net, 1, 1)
			logits, sT := m.net.unroll(m.step.ids, m.step.s0, false)
			var err error
			if m.stepProg, err = graph.Compile(append([]*G.Node{logits}, sT...)...); err != nil {
				panic(err)
			}
		})
		if err != nil {
			return err
		}
		m.scratch = make([]tokenProb, m.vocab())
	}
	for _, s := range m.step.s0 {
		clear(graph.Buffer(s))
	}
	ids := graph.Buffer(m.step.ids[0])
	next := prompt[0]
	for i := 0; i < len(prompt)-1+n; i++ {
		ids[0] = float32(next)
		if err := m.stepProg.Run(); err != nil {
			return err
		}
		for k, s := range m.step.s0 {
			copy(graph.Buffer(s), m.stepProg.Floats(1+k))
		}
		if i+1 < len(prompt) {
			next = prompt[i+1]
			continue
		}
		next = pickToken(m.stepProg.Floats(0), o, r, m.scratch)
		if err := emit(next); err != nil {
			return err
		}
	}
	return nil
}

func (m *recurrentLM) Close() error {
	m.params.Release()
	for _, p := range []*graph.Program{m.evalProg, m.stepProg} {
		if p != nil {
			p.Close()
		}
	}
	if m.trainProg != nil {
		m.trainProg.Close()
	}
	return nil
}
