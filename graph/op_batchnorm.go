package graph

import (
	"fmt"
	"hash"
	"math"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Batch normalisation (Ioffe & Szegedy 2015) is built from explicit nodes rather than one
// Op with hidden state, so that every value the backward pass reads is an edge of the graph
// and the machine's ordering guarantees it is computed first:
//
//	stats = bnStatsOp(x)                       training: the batch's mean and 1/√(var+eps),
//	                                           updating the running statistics as it runs
//	stats = bnEvalStatsOp(running_mean, running_var)   evaluation: the same from the buffers
//	y     = bnOp(x, stats, weight, bias)       (x − mean)·invstd·weight + bias per channel
//
// stats is a [2, C] tensor (row 0 the means, row 1 the inverse standard deviations). bnOp
// declares stats non-differentiable and its SymDiff returns the total derivative with
// respect to x, which in training mode includes the path through the batch statistics:
// the gradient nodes read x, stats and dy, so they always run after the forward pass of
// the same Run. Nothing is kept between runs, so one BatchNorm can be applied any number
// of times in one graph (a GAN's discriminator on a real and a generated batch), each
// application with nodes of its own; each training application updates the running
// statistics once per Run, as each call of a PyTorch module in train mode does.

// bnApplications numbers the training-mode applications of batch normalisation: each
// statistics node has a side effect, so two applications to the same input must not be
// merged into one node by Gorgonia's hash-consing.
var bnApplications atomic.Uint64

// bnSplit views a [N, C] or [N, C, H, W] shape as [n, c, inner] around the channel axis.
func bnSplit(s tensor.Shape) (n, c, inner int) {
	inner = 1
	for _, d := range s[2:] {
		inner *= d
	}
	return s[0], s[1], inner
}

// bnCheckInput validates the shape of batch normalisation's input.
func bnCheckInput(op fmt.Stringer, x tensor.Shape) error {
	if x.Dims() != 2 && x.Dims() != 4 {
		return fmt.Errorf("%v: input must be [N, C] or [N, C, H, W], got %v", op, x)
	}
	return nil
}

// bnCheckStats validates a [2, C] statistics (or per-channel sums) shape against x.
func bnCheckStats(op fmt.Stringer, what string, x, s tensor.Shape) error {
	if s.Dims() != 2 || s[0] != 2 || s[1] != x[1] {
		return fmt.Errorf("%v: %s of shape %v do not fit input %v (want [2 %d])", op, what, s, x, x[1])
	}
	return nil
}

// bnCheckChannel validates a per-channel vector (weight, bias, running statistics).
func bnCheckChannel(op fmt.Stringer, what string, c int, v tensor.Shape) error {
	if v.Dims() != 1 || v[0] != c {
		return fmt.Errorf("%v: %s of shape %v, want [%d]", op, what, v, c)
	}
	return nil
}

// minChannelsPerThread returns the number of channels worth a thread when each channel
// covers perChannel elements.
func minChannelsPerThread(perChannel int) int { return max(1, 32768/max(perChannel, 1)) }

// bnStatsOp computes the batch statistics [2, C] of x in training mode and, as a side effect
// of every execution, updates the running statistics the way PyTorch does:
// running = (1−momentum)·running + momentum·batch, with the unbiased variance for
// running_var, and adds one to num_batches_tracked.
type bnStatsOp struct {
	pure
	dims          int
	momentum, eps float64
	runMean       *tensor.Dense
	runVar        *tensor.Dense
	batches       *tensor.Dense // scalar count
	app           uint64        // the application, so that two of them are never merged
}

func (op bnStatsOp) Arity() int { return 1 }
func (op bnStatsOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(G.TensorType{Dims: op.dims, Of: a}, G.TensorType{Dims: 2, Of: a})
}
func (op bnStatsOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if err := bnCheckInput(op, ss[0]); err != nil {
		return nil, err
	}
	if n, _, inner := bnSplit(ss[0]); n*inner < 2 {
		return nil, fmt.Errorf("%v: training needs more than one value per channel, input is %v", op, ss[0])
	}
	if err := bnCheckChannel(op, "running_mean", ss[0][1], op.runMean.Shape()); err != nil {
		return nil, err
	}
	if err := bnCheckChannel(op, "running_var", ss[0][1], op.runVar.Shape()); err != nil {
		return nil, err
	}
	return tensor.Shape{2, ss[0][1]}, nil
}
func (op bnStatsOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op bnStatsOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 1, vs)
	if err != nil {
		return nil, err
	}
	x := ts[0]
	for _, b := range []*tensor.Dense{op.runMean, op.runVar, op.batches} {
		if b.Dtype() != x.Dtype() {
			return nil, fmt.Errorf("%v: input is %v but the running statistics are %v", op, x.Dtype(), b.Dtype())
		}
	}
	n, c, inner := bnSplit(x.Shape())
	st := output(prealloc, x.Dtype(), tensor.Shape{2, c})
	switch x.Dtype() {
	case tensor.Float32:
		bnStats(st.Float32s(), x.Float32s(), op.runMean.Float32s(), op.runVar.Float32s(), n, c, inner, op.momentum, op.eps)
		op.batches.Float32s()[0]++
	case tensor.Float64:
		bnStats(st.Float64s(), x.Float64s(), op.runMean.Float64s(), op.runVar.Float64s(), n, c, inner, op.momentum, op.eps)
		op.batches.Float64s()[0]++
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return st, nil
}
func (op bnStatsOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "aigc.BatchNormStats{%d,%g,%g,%p,%p,%p,%d}", op.dims, op.momentum, op.eps,
		op.runMean, op.runVar, op.batches, op.app)
}
func (op bnStatsOp) Hashcode() uint32 { return hashOf(op) }
func (op bnStatsOp) String() string   { return fmt.Sprintf("BatchNormStats{#%d}", op.app) }

// The statistics are not differentiated through this node: bnOp's SymDiff accounts for
// them in the gradient of x.
func (op bnStatsOp) DiffWRT(int) []bool { return []bool{false} }
func (op bnStatsOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v is differentiated through BatchNorm", op)
}

// bnStats writes the channel means to st[:c] and 1/√(biased var + eps) to st[c:], from two
// passes over x (the mean, then the squared deviations from it) accumulated in float64,
// and folds them into the running statistics rm and rv as PyTorch does:
// running = (1−momentum)·running + momentum·batch, with the unbiased variance
// (var·m/(m−1) for m values per channel) for rv.
func bnStats[T float](st, x, rm, rv []T, n, c, inner int, momentum, eps float64) {
	m := float64(n * inner)
	parallelFor(c, minChannelsPerThread(n*inner), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			var s float64
			for i := range n {
				s += sum64(x[(i*c+ch)*inner : (i*c+ch+1)*inner])
			}
			mean := s / m
			var q float64
			for i := range n {
				q += sumSqDev64(x[(i*c+ch)*inner:(i*c+ch+1)*inner], mean)
			}
			st[ch] = T(mean)
			st[c+ch] = T(1 / math.Sqrt(q/m+eps))
			rm[ch] = T((1-momentum)*float64(rm[ch]) + momentum*mean)
			rv[ch] = T((1-momentum)*float64(rv[ch]) + momentum*q/(m-1))
		}
	})
}

// sum64 is Σx in float64, with four accumulators so the additions overlap.
func sum64[T float](x []T) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i])
		s1 += float64(x[i+1])
		s2 += float64(x[i+2])
		s3 += float64(x[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// sumSqDev64 is Σ(x−mean)² in float64.
func sumSqDev64[T float](x []T, mean float64) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		d0, d1, d2, d3 := float64(x[i])-mean, float64(x[i+1])-mean, float64(x[i+2])-mean, float64(x[i+3])-mean
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(x); i++ {
		d := float64(x[i]) - mean
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// bnEvalStatsOp turns the running statistics into the [2, C] form bnOp reads: the running
// mean and 1/√(running_var + eps).
type bnEvalStatsOp struct {
	pure
	eps float64
}

func (op bnEvalStatsOp) Arity() int { return 2 }
func (op bnEvalStatsOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	v := G.TensorType{Dims: 1, Of: a}
	return hm.NewFnType(v, v, G.TensorType{Dims: 2, Of: a})
}
func (op bnEvalStatsOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if ss[0].Dims() != 1 || !ss[0].Eq(ss[1]) {
		return nil, fmt.Errorf("%v: running_mean %v and running_var %v must be vectors of one length", op, ss[0], ss[1])
	}
	return tensor.Shape{2, ss[0][0]}, nil
}
func (op bnEvalStatsOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op bnEvalStatsOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 2, vs)
	if err != nil {
		return nil, err
	}
	rm, rv := ts[0], ts[1]
	st := output(prealloc, rm.Dtype(), tensor.Shape{2, rm.Shape()[0]})
	switch rm.Dtype() {
	case tensor.Float32:
		bnEvalStats(st.Float32s(), rm.Float32s(), rv.Float32s(), op.eps)
	case tensor.Float64:
		bnEvalStats(st.Float64s(), rm.Float64s(), rv.Float64s(), op.eps)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, rm.Dtype())
	}
	return st, nil
}
func (op bnEvalStatsOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.BatchNormEvalStats{%g}", op.eps) }
func (op bnEvalStatsOp) Hashcode() uint32      { return hashOf(op) }
func (op bnEvalStatsOp) String() string        { return "BatchNormEvalStats" }

// The running statistics are buffers: nothing is differentiated with respect to them.
func (op bnEvalStatsOp) DiffWRT(int) []bool { return []bool{false, false} }
func (op bnEvalStatsOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: the running statistics are not differentiable", op)
}

func bnEvalStats[T float](st, rm, rv []T, eps float64) {
	c := len(rm)
	for ch := range c {
		st[ch] = rm[ch]
		st[c+ch] = T(1 / math.Sqrt(float64(rv[ch])+eps))
	}
}

// bnOp normalises x with the statistics [2, C] and applies the per-channel affine map:
// y = (x − mean)·invstd·weight + bias. training selects the gradient: with batch
// statistics, x's gradient includes their dependence on x; with running ones, it is the
// affine map's.
type bnOp struct {
	pure
	dims     int
	training bool
}

func (op bnOp) Arity() int { return 4 }
func (op bnOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	x := G.TensorType{Dims: op.dims, Of: a}
	v := G.TensorType{Dims: 1, Of: a}
	return hm.NewFnType(x, G.TensorType{Dims: 2, Of: a}, v, v, x)
}
func (op bnOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if err := bnCheckInput(op, ss[0]); err != nil {
		return nil, err
	}
	if err := bnCheckStats(op, "statistics", ss[0], ss[1]); err != nil {
		return nil, err
	}
	if err := bnCheckChannel(op, "weight", ss[0][1], ss[2]); err != nil {
		return nil, err
	}
	if err := bnCheckChannel(op, "bias", ss[0][1], ss[3]); err != nil {
		return nil, err
	}
	return ss[0].Clone(), nil
}
func (op bnOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op bnOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 4, vs)
	if err != nil {
		return nil, err
	}
	x, st, w, b := ts[0], ts[1], ts[2], ts[3]
	y := output(prealloc, x.Dtype(), x.Shape())
	n, c, inner := bnSplit(x.Shape())
	switch x.Dtype() {
	case tensor.Float32:
		bnNormalize(y.Float32s(), x.Float32s(), st.Float32s(), w.Float32s(), b.Float32s(), n, c, inner)
	case tensor.Float64:
		bnNormalize(y.Float64s(), x.Float64s(), st.Float64s(), w.Float64s(), b.Float64s(), n, c, inner)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return y, nil
}
func (op bnOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.BatchNorm{%d,%t}", op.dims, op.training) }
func (op bnOp) Hashcode() uint32      { return hashOf(op) }
func (op bnOp) String() string {
	if op.training {
		return "BatchNorm{train}"
	}
	return "BatchNorm{eval}"
}

// DiffWRT: x, weight and bias; the statistics are accounted for in x's gradient.
func (op bnOp) DiffWRT(int) []bool { return []bool{true, false, true, true} }

// SymDiff builds the backward pass from dy, x and the statistics. With m values per
// channel, x̂ = (x − mean)·invstd, Σdy and Σdy·x̂ summed per channel:
//
//	dbias   = Σdy
//	dweight = Σdy·x̂
//	dx      = weight·invstd·(dy − Σdy/m − x̂·Σdy·x̂/m)   training (batch statistics)
//	dx      = weight·invstd·dy                          evaluation (running statistics)
func (op bnOp) SymDiff(in G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	x, st, w := in[0], in[1], in[2]
	sums, err := G.ApplyOp(bnSumsOp{dims: op.dims}, x, st, grad)
	if err != nil {
		return nil, err
	}
	db, err := G.ApplyOp(bnRowOp{row: 0}, sums)
	if err != nil {
		return nil, err
	}
	dw, err := G.ApplyOp(bnRowOp{row: 1}, sums)
	if err != nil {
		return nil, err
	}
	var dx *G.Node
	if op.training {
		dx, err = G.ApplyOp(bnInputGradOp{dims: op.dims, training: true}, x, st, w, grad, sums)
	} else {
		dx, err = G.ApplyOp(bnInputGradOp{dims: op.dims}, x, st, w, grad)
	}
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, nil, dw, db}, nil
}

// bnNormalize computes y = (x − mean)·(invstd·w) + b, one [inner] plane of one channel of
// one sample at a time; planes are shared among threads.
func bnNormalize[T float](y, x, st, w, b []T, n, c, inner int) {
	parallelFor(n*c, max(1, 16384/inner), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			ch := p % c
			mean, scale, shift := st[ch], st[c+ch]*w[ch], b[ch]
			xs, ys := x[p*inner:(p+1)*inner], y[p*inner:(p+1)*inner]
			for i, v := range xs {
				ys[i] = (v-mean)*scale + shift
			}
		}
	})
}

// bnSumsOp computes, per channel, Σdy (row 0) and Σdy·x̂ (row 1): the gradients of bias
// and weight, and the two reductions x's gradient needs in training mode.
type bnSumsOp struct {
	pure
	dims int
}

func (op bnSumsOp) Arity() int { return 3 }
func (op bnSumsOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	x := G.TensorType{Dims: op.dims, Of: a}
	m := G.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(x, m, x, m)
}
func (op bnSumsOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if err := bnCheckInput(op, ss[0]); err != nil {
		return nil, err
	}
	if err := bnCheckStats(op, "statistics", ss[0], ss[1]); err != nil {
		return nil, err
	}
	if !ss[2].Eq(ss[0]) {
		return nil, fmt.Errorf("%v: gradient %v does not match input %v", op, ss[2], ss[0])
	}
	return tensor.Shape{2, ss[0][1]}, nil
}
func (op bnSumsOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op bnSumsOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 3, vs)
	if err != nil {
		return nil, err
	}
	x, st, dy := ts[0], ts[1], ts[2]
	n, c, inner := bnSplit(x.Shape())
	sums := output(prealloc, x.Dtype(), tensor.Shape{2, c})
	switch x.Dtype() {
	case tensor.Float32:
		bnSums(sums.Float32s(), x.Float32s(), st.Float32s(), dy.Float32s(), n, c, inner)
	case tensor.Float64:
		bnSums(sums.Float64s(), x.Float64s(), st.Float64s(), dy.Float64s(), n, c, inner)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return sums, nil
}
func (op bnSumsOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.BatchNormSums{%d}", op.dims) }
func (op bnSumsOp) Hashcode() uint32      { return hashOf(op) }
func (op bnSumsOp) String() string        { return "BatchNormSums" }

func bnSums[T float](sums, x, st, dy []T, n, c, inner int) {
	parallelFor(c, minChannelsPerThread(n*inner), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mean := float64(st[ch])
			var sdy, sdx float64
			for i := range n {
				a, b := sumDot64(dy[(i*c+ch)*inner:(i*c+ch+1)*inner], x[(i*c+ch)*inner:(i*c+ch+1)*inner], mean)
				sdy += a
				sdx += b
			}
			sums[ch] = T(sdy)
			sums[c+ch] = T(sdx * float64(st[c+ch]))
		}
	})
}

// sumDot64 returns Σdy and Σdy·(x−mean) in float64, four terms at a time.
func sumDot64[T float](dy, x []T, mean float64) (float64, float64) {
	x = x[:len(dy)]
	var a0, a1, a2, a3, b0, b1, b2, b3 float64
	i := 0
	for ; i+4 <= len(dy); i += 4 {
		g0, g1, g2, g3 := float64(dy[i]), float64(dy[i+1]), float64(dy[i+2]), float64(dy[i+3])
		a0 += g0
		a1 += g1
		a2 += g2
		a3 += g3
		b0 += g0 * (float64(x[i]) - mean)
		b1 += g1 * (float64(x[i+1]) - mean)
		b2 += g2 * (float64(x[i+2]) - mean)
		b3 += g3 * (float64(x[i+3]) - mean)
	}
	for ; i < len(dy); i++ {
		g := float64(dy[i])
		a0 += g
		b0 += g * (float64(x[i]) - mean)
	}
	return (a0 + a1) + (a2 + a3), (b0 + b1) + (b2 + b3)
}

// bnRowOp copies one row of a [2, C] tensor of per-channel sums into a [C] vector.
type bnRowOp struct {
	pure
	row int
}

func (op bnRowOp) Arity() int { return 1 }
func (op bnRowOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(G.TensorType{Dims: 2, Of: a}, G.TensorType{Dims: 1, Of: a})
}
func (op bnRowOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if ss[0].Dims() != 2 || op.row < 0 || op.row >= ss[0][0] {
		return nil, fmt.Errorf("%v: no row %d in %v", op, op.row, ss[0])
	}
	return tensor.Shape{ss[0][1]}, nil
}
func (op bnRowOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op bnRowOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), 1, vs)
	if err != nil {
		return nil, err
	}
	m := ts[0]
	c := m.Shape()[1]
	v := output(prealloc, m.Dtype(), tensor.Shape{c})
	switch m.Dtype() {
	case tensor.Float32:
		copy(v.Float32s(), m.Float32s()[op.row*c:(op.row+1)*c])
	case tensor.Float64:
		copy(v.Float64s(), m.Float64s()[op.row*c:(op.row+1)*c])
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, m.Dtype())
	}
	return v, nil
}
func (op bnRowOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.BatchNormRow{%d}", op.row) }
func (op bnRowOp) Hashcode() uint32      { return hashOf(op) }
func (op bnRowOp) String() string        { return fmt.Sprintf("BatchNormRow{%d}", op.row) }

// bnInputGradOp computes x's gradient: from (x, stats, weight, dy, sums) in training mode,
// from (x, stats, weight, dy) in evaluation mode (x is read only for its shape there).
type bnInputGradOp struct {
	pure
	dims     int
	training bool
}

func (op bnInputGradOp) arity() int {
	if op.training {
		return 5
	}
	return 4
}
func (op bnInputGradOp) Arity() int { return op.arity() }
func (op bnInputGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	x := G.TensorType{Dims: op.dims, Of: a}
	m := G.TensorType{Dims: 2, Of: a}
	v := G.TensorType{Dims: 1, Of: a}
	if op.training {
		return hm.NewFnType(x, m, v, x, m, x)
	}
	return hm.NewFnType(x, m, v, x, x)
}
func (op bnInputGradOp) InferShape(ds ...G.DimSizer) (tensor.Shape, error) {
	ss, err := shapesOf(ds)
	if err != nil {
		return nil, err
	}
	if len(ss) != op.arity() {
		return nil, fmt.Errorf("%v: want %d inputs, got %d", op, op.arity(), len(ss))
	}
	if err := bnCheckInput(op, ss[0]); err != nil {
		return nil, err
	}
	if err := bnCheckStats(op, "statistics", ss[0], ss[1]); err != nil {
		return nil, err
	}
	if err := bnCheckChannel(op, "weight", ss[0][1], ss[2]); err != nil {
		return nil, err
	}
	if !ss[3].Eq(ss[0]) {
		return nil, fmt.Errorf("%v: gradient %v does not match input %v", op, ss[3], ss[0])
	}
	if op.training {
		if err := bnCheckStats(op, "sums", ss[0], ss[4]); err != nil {
			return nil, err
		}
	}
	return ss[0].Clone(), nil
}
func (op bnInputGradOp) Do(vs ...G.Value) (G.Value, error) { return op.UsePreallocDo(nil, vs...) }
func (op bnInputGradOp) UsePreallocDo(prealloc G.Value, vs ...G.Value) (G.Value, error) {
	ts, err := inputs(op.String(), op.arity(), vs)
	if err != nil {
		return nil, err
	}
	x, st, w, dy := ts[0], ts[1], ts[2], ts[3]
	n, c, inner := bnSplit(x.Shape())
	dx := output(prealloc, x.Dtype(), x.Shape())
	switch x.Dtype() {
	case tensor.Float32:
		var sums []float32
		if op.training {
			sums = ts[4].Float32s()
		}
		bnInputGrad(dx.Float32s(), x.Float32s(), st.Float32s(), w.Float32s(), dy.Float32s(), sums, n, c, inner)
	case tensor.Float64:
		var sums []float64
		if op.training {
			sums = ts[4].Float64s()
		}
		bnInputGrad(dx.Float64s(), x.Float64s(), st.Float64s(), w.Float64s(), dy.Float64s(), sums, n, c, inner)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, x.Dtype())
	}
	return dx, nil
}
func (op bnInputGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "aigc.BatchNormInputGrad{%d,%t}", op.dims, op.training)
}
func (op bnInputGradOp) Hashcode() uint32 { return hashOf(op) }
func (op bnInputGradOp) String() string {
	if op.training {
		return "BatchNormInputGrad{train}"
	}
	return "BatchNormInputGrad{eval}"
}

// bnInputGrad writes dx = k·dy − k·Σdy/m − k·invstd·(Σdy·x̂/m)·(x − mean), k = weight·invstd;
// without sums (evaluation), dx = k·dy.
func bnInputGrad[T float](dx, x, st, w, dy, sums []T, n, c, inner int) {
	m := float64(n * inner)
	parallelFor(n*c, max(1, 16384/inner), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			ch := p % c
			k := float64(w[ch]) * float64(st[c+ch])
			dys, dxs := dy[p*inner:(p+1)*inner], dx[p*inner:(p+1)*inner]
			if sums == nil {
				kt := T(k)
				for i, g := range dys {
					dxs[i] = kt * g
				}
				continue
			}
			mean := st[ch]
			kt := T(k)
			shift := T(k * float64(sums[ch]) / m)
			slope := T(k * float64(st[c+ch]) * float64(sums[c+ch]) / m)
			xs := x[p*inner : (p+1)*inner]
			for i, g := range dys {
				dxs[i] = kt*g - shift - slope*(xs[i]-mean)
			}
		}
	})
}
