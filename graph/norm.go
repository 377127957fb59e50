package graph

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

// BatchNorm is torch.nn.BatchNorm1d (on [N, C]) and torch.nn.BatchNorm2d (on [N, C, H, W]):
// each channel is normalised over every other axis and scaled and shifted by a learnt
// weight and bias. Its state has PyTorch's names, so it loads into those modules with
// load_state_dict(strict=True).
//
// Momentum and Eps are read when Forward builds a graph. PyTorch's momentum=None (a
// cumulative average) is not supported.
type BatchNorm struct {
	C             int
	Momentum, Eps float64
	Weight, Bias  *Param // trained
	// Buffers: the running statistics that evaluation uses, and the number of training
	// batches they have seen (a scalar).
	RunningMean, RunningVar, NumBatches *Param
}

// NewBatchNorm adds "<name>.weight" (ones) and "<name>.bias" (zeros), and the buffers
// "<name>.running_mean" (zeros), "<name>.running_var" (ones) and
// "<name>.num_batches_tracked" (a zero scalar) to ps, with PyTorch's defaults
// momentum 0.1 and eps 1e-5.
func NewBatchNorm(ps *Params, name string, c int) *BatchNorm {
	bn := &BatchNorm{
		C:           c,
		Momentum:    0.1,
		Eps:         1e-5,
		Weight:      ps.New(name+".weight", c),
		Bias:        ps.New(name+".bias", c),
		RunningMean: ps.NewBuffer(name+".running_mean", c),
		RunningVar:  ps.NewBuffer(name+".running_var", c),
		NumBatches:  ps.NewBuffer(name + ".num_batches_tracked"),
	}
	Fill(bn.Weight, 1)
	Fill(bn.RunningVar, 1)
	return bn
}

// Forward normalises x of shape [N, C] or [N, C, H, W] over every axis but 1.
//
// In training mode it uses the batch's mean and biased variance, and every Run of a
// program containing this application updates the running statistics (with the unbiased
// variance) and counts the batch, as a PyTorch module called in train mode does. Each call
// of Forward is a separate application: a graph may apply one BatchNorm to several batches
// (a discriminator to real and generated images), and each then updates the statistics
// once per Run, in the order the machine runs them: with Gorgonia's tape, the order they
// were built in, as PyTorch's calls would be (TestBatchNormDiscriminatorStep checks this,
// but it is the tape's topological order, not a documented promise of Gorgonia's).
//
// In evaluation mode it is the fixed affine map given by the running statistics.
func (bn *BatchNorm) Forward(x *G.Node, training bool) *G.Node {
	if bn.Weight == nil || bn.Bias == nil || bn.RunningMean == nil || bn.RunningVar == nil || bn.NumBatches == nil {
		must(nil, fmt.Errorf("BatchNorm: missing parameters or buffers"))
	}
	if x.Dims() != 2 && x.Dims() != 4 {
		must(nil, fmt.Errorf("BatchNorm: input must be [N, C] or [N, C, H, W], got %v", x.Shape()))
	}
	if x.Shape()[1] != bn.C {
		must(nil, fmt.Errorf("BatchNorm: input %v does not have %d channels", x.Shape(), bn.C))
	}
	if bn.NumBatches.Value.Size() != 1 {
		must(nil, fmt.Errorf("BatchNorm: num_batches_tracked must be a scalar, has shape %v", bn.NumBatches.Shape()))
	}
	g := x.Graph()
	var stats *G.Node
	if training {
		stats = must(G.ApplyOp(bnStatsOp{
			dims:     x.Dims(),
			momentum: bn.Momentum,
			eps:      bn.Eps,
			runMean:  bn.RunningMean.Value,
			runVar:   bn.RunningVar.Value,
			batches:  bn.NumBatches.Value,
			app:      bnApplications.Add(1),
		}, x))
	} else {
		stats = must(G.ApplyOp(bnEvalStatsOp{eps: bn.Eps}, bn.RunningMean.Node(g), bn.RunningVar.Node(g)))
	}
	return must(G.ApplyOp(bnOp{dims: x.Dims(), training: training}, x, stats, bn.Weight.Node(g), bn.Bias.Node(g)))
}
