package graph

import (
	"fmt"
	"hash"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/exec"
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

func (op bnStatsOp) spec() exec.Op { return exec.BatchNormStats{Momentum: op.momentum, Eps: op.eps} }

// state: the running statistics and the batch count, updated by every run.
func (op bnStatsOp) state() []*tensor.Dense {
	return []*tensor.Dense{op.runMean, op.runVar, op.batches}
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
func (op bnStatsOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op bnStatsOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
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

// bnEvalStatsOp turns the running statistics into the [2, C] form bnOp reads: the running
// mean and 1/√(running_var + eps).
type bnEvalStatsOp struct {
	pure
	eps float64
}

func (op bnEvalStatsOp) spec() exec.Op { return exec.BatchNormEvalStats{Eps: op.eps} }

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
func (op bnEvalStatsOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op bnEvalStatsOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op bnEvalStatsOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.BatchNormEvalStats{%g}", op.eps) }
func (op bnEvalStatsOp) Hashcode() uint32      { return hashOf(op) }
func (op bnEvalStatsOp) String() string        { return "BatchNormEvalStats" }

// The running statistics are buffers: nothing is differentiated with respect to them.
func (op bnEvalStatsOp) DiffWRT(int) []bool { return []bool{false, false} }
func (op bnEvalStatsOp) SymDiff(G.Nodes, *G.Node, *G.Node) (G.Nodes, error) {
	return nil, fmt.Errorf("%v: the running statistics are not differentiable", op)
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

func (op bnOp) spec() exec.Op { return exec.BatchNorm{} }

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
func (op bnOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op bnOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
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

// bnSumsOp computes, per channel, Σdy (row 0) and Σdy·x̂ (row 1): the gradients of bias
// and weight, and the two reductions x's gradient needs in training mode.
type bnSumsOp struct {
	pure
	dims int
}

func (op bnSumsOp) spec() exec.Op { return exec.BatchNormSums{} }

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
func (op bnSumsOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op bnSumsOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
}
func (op bnSumsOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "aigc.BatchNormSums{%d}", op.dims) }
func (op bnSumsOp) Hashcode() uint32      { return hashOf(op) }
func (op bnSumsOp) String() string        { return "BatchNormSums" }

// bnRowOp copies one row of a [2, C] tensor of per-channel sums into a [C] vector.
type bnRowOp struct {
	pure
	row int
}

func (op bnRowOp) spec() exec.Op { return exec.BatchNormRow{Row: op.row} }

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
func (op bnRowOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op bnRowOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
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

func (op bnInputGradOp) spec() exec.Op { return exec.BatchNormInputGrad{Training: op.training} }

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
func (op bnInputGradOp) Do(vs ...G.Value) (G.Value, error) { return doReference(op, nil, vs) }
func (op bnInputGradOp) UsePreallocDo(p G.Value, vs ...G.Value) (G.Value, error) {
	return doReference(op, p, vs)
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
