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

// The encoder-decoder Transformer (Vaswani et al. 2017) for sequence-to-sequence tasks,
// with pre-norm residual blocks (LayerNorm before each sublayer, one after each stack),
// which train reliably without the paper's careful warm-up:
//
//	enc  = x + SelfAttn(LN(x), source padding masked);  x + FFN(LN(x))     enc_layers times
//	dec  = y + CausalSelfAttn(LN(y));  y + CrossAttn(LN(y), LN(enc));  y + FFN(LN(y))
//	p    = softmax(LN(dec)·Eᵀ)
//
// x and y are token embeddings (one table E for source, target and output, scaled by √d)
// plus sinusoidal positions; FFN is Linear(d, ff) → ReLU → Linear(ff, d). The loss is the
// cross-entropy of every target token (and <eos>) under teacher forcing. Decoding is
// greedy or by beam search.

func init() {
	register(&Family{
		Name:      "transformer",
		Summary:   "encoder-decoder Transformer for sequence pairs (reverse, sort, add, or a TSV file)",
		Data:      Pairs,
		NewConfig: func() configs.Config { return &TransformerConfig{} },
		Build: func(cfg configs.Config, env Env, r *rng.RNG) (Model, error) {
			return NewTransformer(cfg.(*TransformerConfig), env, r)
		},
	})
}

// TransformerConfig is configs/transformer.yaml.
type TransformerConfig struct {
	configs.Train `yaml:",inline"`
	Preset        string  `yaml:"preset"`
	DModel        int     `yaml:"d_model"`
	Heads         int     `yaml:"heads"`
	EncLayers     int     `yaml:"enc_layers"`
	DecLayers     int     `yaml:"dec_layers"`
	FF            int     `yaml:"ff"`
	Dropout       float64 `yaml:"dropout"`
	Clip          float64 `yaml:"grad_clip"`
	Task          string  `yaml:"task"`
	MinLen        int     `yaml:"min_len" limit:"4096"`
	MaxLen        int     `yaml:"max_len" limit:"4096"`
	TrainPairs    int     `yaml:"train_pairs" limit:"100000000"`
	TestPairs     int     `yaml:"test_pairs" limit:"100000000"`
}

// transformerPresets are the sizes of the presets: base is the paper's.
var transformerPresets = map[string][6]float64{ // d_model, heads, enc, dec, ff, dropout
	"small": {128, 4, 2, 2, 512, 0.1},
	"base":  {512, 8, 6, 6, 2048, 0.1},
}

// Resolve implements configs.Resolver: a preset sets the sizes (custom keeps the keys).
func (c *TransformerConfig) Resolve() {
	if p, ok := transformerPresets[c.Preset]; ok {
		c.DModel, c.Heads, c.EncLayers, c.DecLayers, c.FF, c.Dropout = int(p[0]), int(p[1]), int(p[2]), int(p[3]), int(p[4]), p[5]
	}
}

// Validate checks the config.
func (c *TransformerConfig) Validate() error {
	_, known := transformerPresets[c.Preset]
	switch {
	case !known && c.Preset != "custom":
		return fmt.Errorf("preset must be small, base or custom (got %q)", c.Preset)
	case c.DModel <= 0 || c.Heads <= 0 || c.DModel%c.Heads != 0:
		return fmt.Errorf("heads (%d) must divide d_model (%d)", c.Heads, c.DModel)
	case c.EncLayers <= 0 || c.DecLayers <= 0 || c.FF <= 0:
		return fmt.Errorf("enc_layers, dec_layers and ff must be > 0")
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return fmt.Errorf("dropout must be in [0, 1) (got %g)", c.Dropout)
	case !(c.Clip >= 0):
		return fmt.Errorf("grad_clip must be >= 0 (got %g)", c.Clip)
	case c.MinLen < 1 || c.MaxLen < c.MinLen:
		return fmt.Errorf("min_len and max_len must satisfy 1 <= min_len <= max_len (got %d, %d)", c.MinLen, c.MaxLen)
	case c.TrainPairs < 1 || c.TestPairs < 1:
		return fmt.Errorf("train_pairs and test_pairs must be > 0")
	}
	return c.Train.Validate()
}

// Transformer is a built encoder-decoder with its programs.
type Transformer struct {
	cfg     *TransformerConfig
	env     Env
	params  *graph.Params
	opt     *graph.Adam
	acc     accumulator
	embed   *graph.Embedding
	enc     []*encLayer
	dec     []*decLayer
	encLN   *graph.LayerNormLayer
	decLN   *graph.LayerNormLayer
	drop    *graph.Dropout
	pe      *tensor.Dense // sinusoidal positions [max(S, T), d]
	peNodes map[*G.ExprGraph]*G.Node

	train     *s2sGraph
	trainProg *graph.Gradients
	eval      *s2sGraph // teacher-forced losses of a batch, built at the first evaluation
	evalProg  *graph.Program
	decoders  map[int]*s2sDecoder // by rows: evaluation batches, beams
}

type encLayer struct {
	ln1, ln2  *graph.LayerNormLayer
	qkv, proj *graph.Linear
	ff1, ff2  *graph.Linear
}

type decLayer struct {
	ln1, ln2, ln3    *graph.LayerNormLayer
	qkv, selfProj    *graph.Linear
	q, kv, crossProj *graph.Linear
	ff1, ff2         *graph.Linear
}

// NewTransformer builds the model for env's vocabulary and lengths.
func NewTransformer(cfg *TransformerConfig, env Env, r *rng.RNG) (*Transformer, error) {
	if env.Vocab == nil || env.SrcLen < 1 || env.TgtLen < 2 {
		return nil, fmt.Errorf("transformer: no vocabulary or sequence lengths")
	}
	d, ps := cfg.DModel, graph.NewParams()
	m := &Transformer{cfg: cfg, env: env, params: ps, drop: graph.NewDropout(cfg.Dropout), decoders: map[int]*s2sDecoder{},
		peNodes: map[*G.ExprGraph]*G.Node{}}
	m.embed = graph.NewEmbedding(ps, "embed", len(env.Vocab.Tokens), d, r)
	graph.Normal(m.embed.Weight, 0, 1/math.Sqrt(float64(d)), r) // so that √d·E starts at unit scale
	for i := range cfg.EncLayers {
		p := fmt.Sprintf("encoder.layers.%d.", i)
		m.enc = append(m.enc, &encLayer{
			ln1: graph.NewLayerNorm(ps, p+"norm1", d, true), qkv: graph.NewLinear(ps, p+"self_attn.in_proj", d, 3*d, r),
			proj: graph.NewLinear(ps, p+"self_attn.out_proj", d, d, r), ln2: graph.NewLayerNorm(ps, p+"norm2", d, true),
			ff1: graph.NewLinear(ps, p+"linear1", d, cfg.FF, r), ff2: graph.NewLinear(ps, p+"linear2", cfg.FF, d, r),
		})
	}
	for i := range cfg.DecLayers {
		p := fmt.Sprintf("decoder.layers.%d.", i)
		m.dec = append(m.dec, &decLayer{
			ln1: graph.NewLayerNorm(ps, p+"norm1", d, true), qkv: graph.NewLinear(ps, p+"self_attn.in_proj", d, 3*d, r),
			selfProj: graph.NewLinear(ps, p+"self_attn.out_proj", d, d, r), ln2: graph.NewLayerNorm(ps, p+"norm2", d, true),
			q: graph.NewLinear(ps, p+"cross_attn.q_proj", d, d, r), kv: graph.NewLinear(ps, p+"cross_attn.kv_proj", d, 2*d, r),
			crossProj: graph.NewLinear(ps, p+"cross_attn.out_proj", d, d, r), ln3: graph.NewLayerNorm(ps, p+"norm3", d, true),
			ff1: graph.NewLinear(ps, p+"linear1", d, cfg.FF, r), ff2: graph.NewLinear(ps, p+"linear2", cfg.FF, d, r),
		})
	}
	m.encLN = graph.NewLayerNorm(ps, "encoder.norm", d, true)
	m.decLN = graph.NewLayerNorm(ps, "decoder.norm", d, true)
	m.pe = sinusoid(max(env.SrcLen, env.TgtLen), d)
	tc := cfg.TrainConfig()
	m.opt = graph.NewAdam(ps.All(), graph.AdamConfig{LR: tc.LR, Beta1: tc.Beta1, Beta2: tc.Beta2, Eps: tc.Eps})
	m.acc = accumulate(ps, m.opt)
	m.acc.weigh = func(b *datasets.Batch) float64 { // the loss is a mean over target tokens
		n := 0
		for _, v := range b.Pairs.TargetMask {
			if v != 0 {
				n++
			}
		}
		return float64(n)
	}
	err := graph.Build(func() {
		m.train = m.newGraph(cfg.BatchSize, true)
		var err error
		if m.trainProg, err = graph.CompileGradients(m.train.loss, ps.All()); err != nil {
			panic(err)
		}
	})
	if err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// sinusoid is the paper's position table: sin and cos of pos/10000^(2i/d).
func sinusoid(n, d int) *tensor.Dense {
	t := tensor.New(tensor.WithShape(n, d), tensor.Of(tensor.Float32))
	v := t.Float32s()
	for pos := range n {
		for i := 0; i < d; i += 2 {
			a := float64(pos) / math.Pow(10000, float64(i)/float64(d))
			v[pos*d+i] = float32(math.Sin(a))
			if i+1 < d {
				v[pos*d+i+1] = float32(math.Cos(a))
			}
		}
	}
	return t
}

// s2sGraph is a compiled teacher-forced pass over [rows] pairs with its inputs.
type s2sGraph struct {
	g                    *G.ExprGraph
	rows                 int
	src, srcPos, srcMask *G.Node
	decIn, decPos        *G.Node
	targets, weights     *G.Node
	logits, loss         *G.Node
}

func (m *Transformer) newGraph(rows int, training bool) *s2sGraph {
	s, t := m.env.SrcLen, m.env.TgtLen
	g := G.NewGraph()
	x := &s2sGraph{g: g, rows: rows}
	x.src = graph.Input(g, "src", tensor.Float32, rows*s)
	x.srcPos = positions(g, "src_pos", rows, s)
	x.srcMask = graph.Input(g, "src_mask", tensor.Float32, rows, s)
	x.decIn = graph.Input(g, "dec_in", tensor.Float32, rows*t)
	x.decPos = positions(g, "dec_pos", rows, t)
	x.targets = graph.Input(g, "targets", tensor.Float32, rows*t)
	x.weights = graph.Input(g, "weights", tensor.Float32, rows*t)
	enc := m.encode(x.src, x.srcPos, x.srcMask, training)
	x.logits = m.decode(enc, x.decIn, x.decPos, x.srcMask, training)
	x.loss = graph.Sum(graph.Mul(graph.SoftmaxCrossEntropy(x.logits, x.targets), x.weights))
	return x
}

// positions is an input holding 0..n−1 for each of rows sequences.
func positions(g *G.ExprGraph, name string, rows, n int) *G.Node {
	p := graph.Input(g, name, tensor.Float32, rows*n)
	buf := graph.Buffer(p)
	for i := range buf {
		buf[i] = float32(i % n)
	}
	return p
}

// embedAt returns √d·E[ids] + PE[pos].
func (m *Transformer) embedAt(ids, pos *G.Node, training bool) *G.Node {
	g := ids.Graph()
	pe, ok := m.peNodes[g] // one constant per graph, shared by the encoder and the decoder
	if !ok {
		pe = G.NewTensor(g, tensor.Float32, 2, G.WithShape(m.pe.Shape()...), G.WithName("sinusoid"), G.WithValue(m.pe))
		m.peNodes[g] = pe
	}
	scaled := graph.Affine(m.embed.Forward(ids), math.Sqrt(float64(m.cfg.DModel)), 0)
	return m.drop.Forward(graph.Add(scaled, graph.Lookup(pe, pos)), training)
}

func (m *Transformer) ffn(x *G.Node, ff1, ff2 *graph.Linear, training bool) *G.Node {
	return m.drop.Forward(ff2.Forward(graph.ReLU(ff1.Forward(x))), training)
}

func (m *Transformer) encode(src, pos, mask *G.Node, training bool) *G.Node {
	d, s := m.cfg.DModel, m.env.SrcLen
	a := graph.Attention{Heads: m.cfg.Heads, Dim: d, Tq: s, Tk: s, KOff: d, VOff: 2 * d}
	x := m.embedAt(src, pos, training)
	for _, l := range m.enc {
		qkv := l.qkv.Forward(l.ln1.Forward(x))
		x = graph.Add(x, m.drop.Forward(l.proj.Forward(a.Apply(a.Probs(qkv, qkv, mask), qkv)), training))
		x = graph.Add(x, m.ffn(l.ln2.Forward(x), l.ff1, l.ff2, training))
	}
	return m.encLN.Forward(x)
}

// decode returns the logits [rows·T, V] of the decoder inputs given the encoder output.
func (m *Transformer) decode(enc, decIn, pos, srcMask *G.Node, training bool) *G.Node {
	d, s, t := m.cfg.DModel, m.env.SrcLen, m.env.TgtLen
	self := graph.Attention{Heads: m.cfg.Heads, Dim: d, Tq: t, Tk: t, KOff: d, VOff: 2 * d, Causal: true}
	cross := graph.Attention{Heads: m.cfg.Heads, Dim: d, Tq: t, Tk: s, VOff: d}
	y := m.embedAt(decIn, pos, training)
	for _, l := range m.dec {
		qkv := l.qkv.Forward(l.ln1.Forward(y))
		y = graph.Add(y, m.drop.Forward(l.selfProj.Forward(self.Apply(self.Probs(qkv, qkv, nil), qkv)), training))
		kv := l.kv.Forward(enc)
		q := l.q.Forward(l.ln2.Forward(y))
		y = graph.Add(y, m.drop.Forward(l.crossProj.Forward(cross.Apply(cross.Probs(q, kv, srcMask), kv)), training))
		y = graph.Add(y, m.ffn(l.ln3.Forward(y), l.ff1, l.ff2, training))
	}
	return must2(graph.MatMul(m.decLN.Forward(y), m.embed.Weight.Node(y.Graph()), false, true))
}

// feed copies a pair batch into a graph's inputs; weights are scaled to a mean when mean.
func (x *s2sGraph) feed(b *datasets.PairBatch, mean bool) int {
	copyIDs := func(dst []float32, src []int32) {
		for i, v := range src {
			dst[i] = float32(v)
		}
	}
	copyIDs(graph.Buffer(x.src), b.Source)
	copy(graph.Buffer(x.srcMask), b.SourceMask)
	copyIDs(graph.Buffer(x.decIn), b.DecIn)
	copyIDs(graph.Buffer(x.targets), b.DecOut)
	w := graph.Buffer(x.weights)
	n, scale := lossWeights(b.TargetMask, mean)
	for i, v := range b.TargetMask {
		w[i] = v * scale
	}
	// Rows past Valid have an all-zero source mask; give them one position so that their
	// attention rows are defined (their loss weight is zero anyway).
	mask := graph.Buffer(x.srcMask)
	for r := b.Valid; r < b.Rows; r++ {
		mask[r*b.S] = 1
	}
	return n
}

func (m *Transformer) Params() *graph.Params     { return m.params }
func (m *Transformer) Optimizers() []*graph.Adam { return []*graph.Adam{m.opt} }
func (m *Transformer) StepFLOPs() int64          { return m.trainProg.FLOPs() }

// TrainStep implements Model.
func (m *Transformer) TrainStep(bs []*datasets.Batch, r *rng.RNG) (Metrics, error) {
	ms, grads, err := m.acc.step(bs, func(b *datasets.Batch) (Metrics, [][]float32, error) {
		if b.Pairs == nil {
			return nil, nil, fmt.Errorf("transformer: not a batch of sequence pairs")
		}
		m.train.feed(b.Pairs, true)
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

// s2sDecoder is an inference graph of a fixed number of rows: the encoder once, then the
// decoder over the whole target length each step (future positions cannot influence the
// ones decoded so far, so a prefix is decoded exactly).
type s2sDecoder struct {
	x      *s2sGraph
	encode *graph.Program // the encoder output, written into encIn
	encIn  *G.Node
	step   *graph.Program // logits from encIn and the decoder inputs
}

func (m *Transformer) decoder(rows int) (*s2sDecoder, error) {
	if d, ok := m.decoders[rows]; ok {
		return d, nil
	}
	dd := &s2sDecoder{}
	err := graph.Build(func() {
		x := &s2sGraph{g: G.NewGraph(), rows: rows}
		s, t, d := m.env.SrcLen, m.env.TgtLen, m.cfg.DModel
		x.src = graph.Input(x.g, "src", tensor.Float32, rows*s)
		x.srcPos = positions(x.g, "src_pos", rows, s)
		x.srcMask = graph.Input(x.g, "src_mask", tensor.Float32, rows, s)
		x.decIn = graph.Input(x.g, "dec_in", tensor.Float32, rows*t)
		x.decPos = positions(x.g, "dec_pos", rows, t)
		dd.encIn = graph.Input(x.g, "enc", tensor.Float32, rows*s, d)
		var err error
		if dd.encode, err = graph.Compile(m.encode(x.src, x.srcPos, x.srcMask, false)); err != nil {
			panic(err)
		}
		if dd.step, err = graph.Compile(m.decode(dd.encIn, x.decIn, x.decPos, x.srcMask, false)); err != nil {
			panic(err)
		}
		dd.x = x
	})
	if err != nil {
		return nil, err
	}
	m.decoders[rows] = dd
	return dd, nil
}

// setSources writes rows of source ids (repeating the last when fewer) and runs the encoder.
func (d *s2sDecoder) setSources(srcs [][]int32, s int) error {
	src, mask := graph.Buffer(d.x.src), graph.Buffer(d.x.srcMask)
	clear(src)
	clear(mask)
	for r := range d.x.rows {
		ids := srcs[min(r, len(srcs)-1)]
		for j, id := range ids {
			src[r*s+j], mask[r*s+j] = float32(id), 1
		}
		if len(ids) == 0 {
			mask[r*s] = 1
		}
	}
	if err := d.encode.Run(); err != nil {
		return err
	}
	copy(graph.Buffer(d.encIn), d.encode.Floats(0))
	return nil
}

// logProbs runs the decoder on the rows' prefixes and returns, for each row, the log
// probabilities of the token after its prefix.
func (d *s2sDecoder) logProbs(prefixes [][]int32, t, v int) ([][]float64, error) {
	in := graph.Buffer(d.x.decIn)
	clear(in)
	for r, p := range prefixes {
		in[r*t] = datasets.BOSID
		for j, id := range p {
			in[r*t+j+1] = float32(id)
		}
	}
	if err := d.step.Run(); err != nil {
		return nil, err
	}
	logits := d.step.Floats(0)
	out := make([][]float64, len(prefixes))
	for r, p := range prefixes {
		row := logits[(r*t+len(p))*v : (r*t+len(p)+1)*v]
		out[r] = logSoftmax(row)
	}
	return out, nil
}

func logSoftmax(row []float32) []float64 {
	m := math.Inf(-1)
	for _, x := range row {
		m = max(m, float64(x))
	}
	var s float64
	for _, x := range row {
		s += math.Exp(float64(x) - m)
	}
	out := make([]float64, len(row))
	for i, x := range row {
		out[i] = float64(x) - m - math.Log(s)
	}
	return out
}

// Translate decodes each source greedily (beam ≤ 1) or by beam search of that width,
// returning the target ids without <eos>.
func (m *Transformer) Translate(srcs [][]int32, beam int) ([][]int32, error) {
	if beam > 1 {
		out := make([][]int32, len(srcs))
		for i, s := range srcs {
			var err error
			if out[i], err = m.beamSearch(s, beam); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	rows := min(len(srcs), m.cfg.BatchSize)
	d, err := m.decoder(rows)
	if err != nil {
		return nil, err
	}
	var out [][]int32
	for start := 0; start < len(srcs); start += rows {
		chunk := srcs[start:min(start+rows, len(srcs))]
		if err := d.setSources(chunk, m.env.SrcLen); err != nil {
			return nil, err
		}
		prefixes := make([][]int32, rows)
		done := make([]bool, rows)
		for range m.env.TgtLen - 1 {
			lp, err := d.logProbs(prefixes, m.env.TgtLen, len(m.env.Vocab.Tokens))
			if err != nil {
				return nil, err
			}
			all := true
			for r := range rows {
				if done[r] {
					continue
				}
				best := argmax(lp[r])
				if best == datasets.EOSID {
					done[r] = true
				} else {
					prefixes[r] = append(prefixes[r], int32(best))
					all = false
				}
			}
			if all {
				break
			}
		}
		out = append(out, prefixes[:len(chunk)]...)
	}
	return out, nil
}

// beamSearch keeps the width most probable prefixes at each step and returns the most
// probable finished sequence (or unfinished, at the length limit).
func (m *Transformer) beamSearch(src []int32, width int) ([]int32, error) {
	d, err := m.decoder(width)
	if err != nil {
		return nil, err
	}
	if err := d.setSources([][]int32{src}, m.env.SrcLen); err != nil {
		return nil, err
	}
	type hyp struct {
		ids   []int32
		score float64
	}
	beams := []hyp{{}}
	var finished []hyp
	v := len(m.env.Vocab.Tokens)
	for range m.env.TgtLen - 1 {
		prefixes := make([][]int32, width)
		for i := range prefixes {
			prefixes[i] = beams[min(i, len(beams)-1)].ids
		}
		lp, err := d.logProbs(prefixes, m.env.TgtLen, v)
		if err != nil {
			return nil, err
		}
		var cands []hyp
		for i, b := range beams {
			for tok := datasets.EOSID; tok < v; tok++ {
				s := b.score + lp[i][tok]
				if tok == datasets.EOSID {
					finished = append(finished, hyp{b.ids, s})
					continue
				}
				cands = append(cands, hyp{append(append([]int32(nil), b.ids...), int32(tok)), s})
			}
		}
		sort.SliceStable(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
		beams = cands[:min(width, len(cands))]
		// Stop when no open hypothesis can beat the best finished one.
		if len(finished) > 0 {
			best := finished[0].score
			for _, f := range finished {
				best = max(best, f.score)
			}
			if len(beams) == 0 || beams[0].score < best {
				break
			}
		}
	}
	pool := append(finished, beams...)
	sort.SliceStable(pool, func(i, j int) bool { return pool[i].score > pool[j].score })
	return pool[0].ids, nil
}

// Evaluate implements Model: the teacher-forced loss per target token, and the share of
// test pairs decoded greedily exactly right (exact) and of target positions right (token_acc).
func (m *Transformer) Evaluate(ctx context.Context, s datasets.Stream, seed uint64) (Metrics, error) {
	var lossSum float64
	var tokens, exact, pairs, right, positions int
	if m.evalProg == nil {
		err := graph.Build(func() {
			m.eval = m.newGraph(m.cfg.BatchSize, false)
			var err error
			if m.evalProg, err = graph.Compile(graph.Mul(graph.SoftmaxCrossEntropy(m.eval.logits, m.eval.targets), m.eval.weights)); err != nil {
				panic(err)
			}
		})
		if err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(ctx) // stops the stream's producer on an early return
	defer cancel()
	for b := range ownBatches(ctx, s) {
		tokens += m.eval.feed(b.Pairs, false)
		srcs, wants := pairsOf(b.Pairs) // copies: the batch's buffers go back to the stream
		b.Release()
		if err := m.evalProg.Run(); err != nil {
			return nil, err
		}
		for _, v := range m.evalProg.Floats(0) {
			lossSum += float64(v)
		}
		got, err := m.Translate(srcs, 1)
		if err != nil {
			return nil, err
		}
		for i, want := range wants {
			pairs++
			positions += len(want)
			ok := len(got[i]) == len(want)
			for j, id := range want {
				if j < len(got[i]) && got[i][j] == id {
					right++
				} else {
					ok = false
				}
			}
			if ok {
				exact++
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t := []float64{lossSum, float64(tokens), float64(exact), float64(pairs), float64(right), float64(positions)}
	if err := addRanks(t); err != nil {
		return nil, err
	}
	if t[3] == 0 {
		return nil, fmt.Errorf("evaluation: no pairs")
	}
	return Metrics{{"loss", t[0] / t[1]}, {"exact", t[2] / t[3]}, {"token_acc", t[4] / t[5]}}, nil
}

// pairsOf returns the valid rows' sources and targets (without padding and <eos>).
func pairsOf(b *datasets.PairBatch) (srcs, tgts [][]int32) {
	for r := range b.Valid {
		var s, t []int32
		for j := range b.S {
			if b.SourceMask[r*b.S+j] == 1 {
				s = append(s, b.Source[r*b.S+j])
			}
		}
		for j := range b.T {
			if id := b.DecOut[r*b.T+j]; b.TargetMask[r*b.T+j] == 1 && id != datasets.EOSID {
				t = append(t, id)
			}
		}
		srcs, tgts = append(srcs, s), append(tgts, t)
	}
	return srcs, tgts
}

func (m *Transformer) Close() error {
	m.params.Release()
	if m.trainProg != nil {
		m.trainProg.Close()
	}
	if m.evalProg != nil {
		m.evalProg.Close()
	}
	for _, d := range m.decoders {
		d.encode.Close()
		d.step.Close()
	}
	return nil
}
