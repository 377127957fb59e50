package exec

import "math"

// The op catalog: every kind a device may be asked to run, with its attributes and
// operands. graph/ defines each op's shapes and gradient; the comments here say what a
// kernel must compute. Shapes are row-major; "[N, K]" is N rows of K.

// Element-wise and shape ops.

// Add is a + b, both of one shape (also how gradients of a value read twice are summed).
type Add struct{}

// Sub is a − b.
type Sub struct{}

// Mul is a ⊙ b.
type Mul struct{}

// Affine is Scale·x + Shift.
type Affine struct{ Scale, Shift float64 }

// MapFn names an element-wise function of Map.
type MapFn uint8

const (
	ReLU      MapFn = iota // max(x, 0)
	LeakyReLU              // x for x > 0, Alpha·x otherwise
	Tanh
	Sigmoid // 1/(1+e^−x)
	Exp     // e^x
	Square  // x²
)

var mapNames = [...]string{"ReLU", "LeakyReLU", "Tanh", "Sigmoid", "Exp", "Square"}

func (f MapFn) String() string { return mapNames[f] }

// FromOutput reports whether f's derivative is computed from its output y (ReLU, leaky
// ReLU, tanh, sigmoid, exp); otherwise from its input x (square).
func (f MapFn) FromOutput() bool { return f != Square }

// Map is y = Fn(x).
type Map struct {
	Fn    MapFn
	Alpha float64 // LeakyReLU's slope
}

// MapGrad is dx = dy·Fn'(x), from (y, dy) or (x, dy) as Fn.FromOutput says.
type MapGrad struct {
	Fn    MapFn
	Alpha float64
}

// Sum adds x over Axes (all of them when empty), giving the remaining axes' shape (a
// scalar when none remain).
type Sum struct{ Axes []int }

// SumGrad is Sum's adjoint: the output (Sum's input shape) holds, at each index, the
// element of the input (Sum's output shape) at the same index with Axes dropped.
type SumGrad struct{ Axes []int }

// Reshape is x under another shape of the same size: a view, no kernel.
type Reshape struct{}

// Softmax is the softmax of each row of x [N, K].
type Softmax struct{}

// SoftmaxGrad is dx = y ⊙ (dy − Σ_row dy⊙y) from (y, dy).
type SoftmaxGrad struct{}

// Join concatenates its inputs along Axis (0: one after the other; 1: matrices side by
// side).
type Join struct{ Axis int }

// Block copies elements [Start, Start+Size) along Axis out of x.
type Block struct{ Axis, Start, Size int }

// BlockPad is Block's adjoint: x placed at [Start, Start+Size) along Axis of a zero
// tensor with Total there.
type BlockPad struct{ Axis, Start, Total int }

// Matrix products.

// MatMul is op(a)·op(b) [M, N], op transposing when its flag is set; with Bias, a third
// input b [N] is added to every row; then the Epilogue's element-wise ops of one input
// (Map, Affine), in order, applied to the product while it is in cache (the executor puts
// there an activation that alone reads the product).
type MatMul struct {
	TransA, TransB bool
	Bias           bool
	Epilogue       []Op
}

// AddBias is x + b with b [C] broadcast along Axis of x.
type AddBias struct{ Axis int }

// BiasGrad sums dy over every axis but Axis: [C].
type BiasGrad struct{ Axis int }

// Losses.

// BCEWithLogits is, for logits l and targets t [N, K], Σ_row softplus(l) − t·l: [N].
type BCEWithLogits struct{}

// BCEWithLogitsGrad is (σ(l) − t)·g[row] from (l, t, g [N]).
type BCEWithLogitsGrad struct{}

// XentStats is each row's maximum m and log Σ e^(x−m) of logits [N, K]: [N, 2].
type XentStats struct{}

// Xent is the cross-entropy per row from (logits [N, K], labels [N], stats [N, 2]): [N].
// A label that is not an integer in [0, K) is an error of the launch.
type Xent struct{}

// XentGrad is (softmax − onehot(label))·g[row] from (logits, labels, stats, g [N]).
type XentGrad struct{}

// Embeddings.

// Lookup gathers rows ids[n] of table [V, E]: (table, ids [N]) → [N, E]. An id outside
// [0, V) is an error of the launch.
type Lookup struct{}

// LookupGrad scatters dy [N, E] into [Vocab, E], adding rows of repeated ids: (ids, dy).
type LookupGrad struct{ Vocab int }

// CacheWrite is a copy of cache [T, W] whose row pos[0] is columns [Off, Off+W) of the
// one-row src: (cache, src [1, S], pos [1]).
type CacheWrite struct{ Off int }

// Normalisation.

// LayerNormStats is each row's mean and 1/√(var+Eps) of x [N, D]: [N, 2].
type LayerNormStats struct{ Eps float64 }

// LayerNorm is (x − μ)·rstd·γ + β from (x, γ, β, stats).
type LayerNorm struct{}

// LayerNormGradX is x's gradient from (x, γ, stats, dy).
type LayerNormGradX struct{}

// LayerNormGradGamma is Σ_rows dy·x̂ from (x, stats, dy): [D].
type LayerNormGradGamma struct{}

// BatchNormStats is the batch's per-channel mean and 1/√(var+Eps) of x [N, C(, H, W)]:
// [2, C]. Inputs (x, running_mean, running_var, num_batches_tracked): the last three are
// leaves the kernel updates in place, as PyTorch's train-mode forward does.
type BatchNormStats struct{ Momentum, Eps float64 }

// BatchNormEvalStats is [running_mean; 1/√(running_var+Eps)]: [2, C].
type BatchNormEvalStats struct{ Eps float64 }

// BatchNorm is (x − mean)·invstd·weight + bias per channel from (x, stats, weight, bias).
type BatchNorm struct{}

// BatchNormSums is per channel [Σdy; Σdy·x̂] from (x, stats, dy): [2, C].
type BatchNormSums struct{}

// BatchNormRow is row Row of a [2, C] matrix: [C].
type BatchNormRow struct{ Row int }

// BatchNormInputGrad is x's gradient from (x, stats, weight, dy[, sums]): with sums
// (Training), through the batch statistics too.
type BatchNormInputGrad struct{ Training bool }

// Activations of the Transformers.

// GELU is x·Φ(x).
type GELU struct{}

// GELUGrad is dy·(Φ(x) + x·φ(x)) from (x, dy).
type GELUGrad struct{}

// Attention.

// AttentionShape is one multi-head attention: rows are sequence-major, q, k and v column
// blocks of their matrices (see graph.Attention).
type AttentionShape struct {
	Heads, Dim int
	Tq, Tk     int
	QOff, KOff int
	VOff       int
	Causal     bool
	Masked     bool // AttentionProbs has a third input, the [B, Tk] mask
}

// AttentionProbs is softmax(q_h·k_hᵀ/√d + mask) per sequence and head: (q, k[, mask]) →
// [B·heads·Tq, Tk].
type AttentionProbs struct{ AttentionShape }

// AttentionApply is P_h·v_h, heads side by side: (P, v) → [B·Tq, Dim].
type AttentionApply struct{ AttentionShape }

// AttentionProbsGradQ is q's gradient, shaped like q, from (q, k, P, dP).
type AttentionProbsGradQ struct{ AttentionShape }

// AttentionProbsGradK is k's gradient, shaped like k, from (q, k, P, dP).
type AttentionProbsGradK struct{ AttentionShape }

// AttentionApplyGradP is dP from (v, dY).
type AttentionApplyGradP struct{ AttentionShape }

// AttentionApplyGradV is v's gradient, shaped like v, from (P, dY, v).
type AttentionApplyGradV struct{ AttentionShape }

// Recurrent layers.

// LSTMCellFn names one of the per-step LSTM cell functions (the reference the fused
// sequence is tested against); see graph.LSTMCell.
type LSTMCellFn uint8

const (
	LSTMC LSTMCellFn = iota
	LSTMH
	LSTMCGradGates
	LSTMCGradPrev
	LSTMHGradGates
	LSTMHGradC
)

// LSTMCell is one per-step cell function over gates [B, 4H] and [B, H] states.
type LSTMCell struct{ Fn LSTMCellFn }

// LSTMSequence runs one LSTM layer over Steps: (xw [T·B, 4H], whh [4H, H], h0, c0 [B, H])
// → the tape [T·B, 6H] (h, c, i, f, g, o per step and row).
type LSTMSequence struct{ Steps int }

// LSTMSequenceGrad is backpropagation through time: (whh, h0, c0, tape, dtape) → packed
// [T·B + H + B, 4H] (the projections' gradient, the recurrent weight's transposed, then
// dh0 | dc0 | 0).
type LSTMSequenceGrad struct{ Steps int }

// LSTMUnpack extracts Part (0 projections, 1 recurrent weight, 2 h0, 3 c0) of the packed
// gradient.
type LSTMUnpack struct{ Steps, Part int }

// LSTMPick copies Part (0 every h, 1 the last h, 2 the last c) out of a tape, or, with
// Grad, scatters it into an otherwise zero tape.
type LSTMPick struct {
	Steps, Part int
	Grad        bool
}

// ElmanSequence runs the Elman recurrence h_t = act(x_t·W_xᵀ + b + h_{t−1}·W_hᵀ) over
// Steps, from (x [T·B, In], h0 [B, H], w [H, In+H] = [W_x W_h], b [H]): the output is the
// states [(T+1)·B, H], h_0 to h_T, time-major.
type ElmanSequence struct {
	Steps int
	Tanh  bool // act is tanh, else the identity
}

// ElmanSequenceGrad is backpropagation through time from (w, states, dstates): [(T+1)·B,
// H], whose first B rows are h0's gradient and whose rows of step t ≥ 1 are the gradient
// of step t's pre-activation (from which the weights' gradients are products).
type ElmanSequenceGrad struct {
	Steps int
	Tanh  bool
}

// Convolutions (NCHW, PyTorch's weight layouts).

// Conv2d correlates x [N, C, H, W] with w [O, C, K, K].
type Conv2d struct{ Stride, Pad int }

// ConvTranspose2d is Conv2d's adjoint: x [N, Ci, H, W], w [Ci, Co, K, K]; OutH and OutW
// (when not 0) choose the output size.
type ConvTranspose2d struct{ Stride, Pad, OutH, OutW int }

// ConvWeightGrad is dW [Cb, Ca, K, K] from (a [N, Ca, Ha, Wa], b [N, Cb, Hb, Wb]).
type ConvWeightGrad struct{ Stride, Pad, K int }

// MaxPool2d is the maximum of each K×K window moving by Stride.
type MaxPool2d struct{ K, Stride int }

// MaxPool2dGrad adds each window's gradient at its maximum: (x, dy) → dx.
type MaxPool2dGrad struct{ K, Stride int }

// Optimisation (nodes with no output: they update their inputs in place).

// SumSquares is Σ over all its inputs of x²: a scalar (the squared global norm of
// gradients), accumulated in float64.
type SumSquares struct{}

// AdamStep is one fused pass over a parameter: (w, g, m, v[, avg][, normsq]). It reads
// the step's values from Args at launch: with Clip > 0 and normsq given, the gradient is
// scaled by Clip/(‖g‖+1e-6) when the global norm exceeds Clip (and nothing is updated
// when the norm is not finite); with Decay > 0, w shrinks by lr·Decay first (AdamW); then
// Adam's moments and update; with avg, the moving average avg = r·avg + (1−r)·w at rate
// Args.AvgRate.
type AdamStep struct {
	Args  *AdamArgs
	Decay bool // this parameter takes weight decay
	Avg   bool // an average follows this parameter
	Norm  bool // the last input is the squared global norm
}

// AdamArgs are an optimiser step's scalars, written by the host before each Run.
type AdamArgs struct {
	LR, Beta1, Beta2, Eps float64
	WeightDecay           float64
	StepSize              float64 // lr/(1−β1ᵗ)
	InvSqrtBC2            float64 // 1/√(1−β2ᵗ)
	Clip                  float64 // the global norm's limit (0: none)
	AvgRate               float64 // the moving average's decay this step
}

// EMAStep is avg = Rate·avg + (1−Rate)·w over (w, avg), for parameters no optimiser
// averages in its own pass; Rate is read at launch.
type EMAStep struct{ Rate *float64 }

// Swap exchanges the contents of its two inputs (the weights and their average).
type Swap struct{}

// Randomness.

// Dropout is x ⊙ m, the mask m drawn from a counter-based generator: element i is kept,
// scaled by 1/(1−P), when DropoutBits(*Seed, i) ≥ DropoutThreshold(P), else zeroed. The
// seed is read at launch (the host draws one per application and step), so every device
// draws the same mask, nothing is stored for the backward pass (the gradient is the same
// op on dy) and no mask crosses to a GPU.
type Dropout struct {
	P    float64
	Seed *uint64
}

// DropoutBits is element i's 32 random bits under seed: SplitMix64's finaliser of the
// counter (seed + (i+1)·golden ratio), its high half. Every device computes exactly this.
func DropoutBits(seed uint64, i int) uint32 {
	z := seed + uint64(i+1)*0x9E3779B97F4A7C15
	z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
	z = (z ^ z>>27) * 0x94D049BB133111EB
	return uint32((z ^ z>>31) >> 32)
}

// DropoutThreshold is P in units of 2⁻³²: an element whose bits are below it is dropped.
func DropoutThreshold(p float64) uint64 { return uint64(math.Round(min(max(p, 0), 1) * (1 << 32))) }

func (Add) Kind() string                 { return "Add" }
func (Sub) Kind() string                 { return "Sub" }
func (Mul) Kind() string                 { return "Mul" }
func (Affine) Kind() string              { return "Affine" }
func (Map) Kind() string                 { return "Map" }
func (MapGrad) Kind() string             { return "MapGrad" }
func (Sum) Kind() string                 { return "Sum" }
func (SumGrad) Kind() string             { return "SumGrad" }
func (Reshape) Kind() string             { return "Reshape" }
func (Softmax) Kind() string             { return "Softmax" }
func (SoftmaxGrad) Kind() string         { return "SoftmaxGrad" }
func (Join) Kind() string                { return "Join" }
func (Block) Kind() string               { return "Block" }
func (BlockPad) Kind() string            { return "BlockPad" }
func (MatMul) Kind() string              { return "MatMul" }
func (AddBias) Kind() string             { return "AddBias" }
func (BiasGrad) Kind() string            { return "BiasGrad" }
func (BCEWithLogits) Kind() string       { return "BCEWithLogits" }
func (BCEWithLogitsGrad) Kind() string   { return "BCEWithLogitsGrad" }
func (XentStats) Kind() string           { return "XentStats" }
func (Xent) Kind() string                { return "Xent" }
func (XentGrad) Kind() string            { return "XentGrad" }
func (Lookup) Kind() string              { return "Lookup" }
func (LookupGrad) Kind() string          { return "LookupGrad" }
func (CacheWrite) Kind() string          { return "CacheWrite" }
func (LayerNormStats) Kind() string      { return "LayerNormStats" }
func (LayerNorm) Kind() string           { return "LayerNorm" }
func (LayerNormGradX) Kind() string      { return "LayerNormGradX" }
func (LayerNormGradGamma) Kind() string  { return "LayerNormGradGamma" }
func (BatchNormStats) Kind() string      { return "BatchNormStats" }
func (BatchNormEvalStats) Kind() string  { return "BatchNormEvalStats" }
func (BatchNorm) Kind() string           { return "BatchNorm" }
func (BatchNormSums) Kind() string       { return "BatchNormSums" }
func (BatchNormRow) Kind() string        { return "BatchNormRow" }
func (BatchNormInputGrad) Kind() string  { return "BatchNormInputGrad" }
func (GELU) Kind() string                { return "GELU" }
func (GELUGrad) Kind() string            { return "GELUGrad" }
func (AttentionProbs) Kind() string      { return "AttentionProbs" }
func (AttentionApply) Kind() string      { return "AttentionApply" }
func (AttentionProbsGradQ) Kind() string { return "AttentionProbsGradQ" }
func (AttentionProbsGradK) Kind() string { return "AttentionProbsGradK" }
func (AttentionApplyGradP) Kind() string { return "AttentionApplyGradP" }
func (AttentionApplyGradV) Kind() string { return "AttentionApplyGradV" }
func (LSTMCell) Kind() string            { return "LSTMCell" }
func (LSTMSequence) Kind() string        { return "LSTMSequence" }
func (LSTMSequenceGrad) Kind() string    { return "LSTMSequenceGrad" }
func (LSTMUnpack) Kind() string          { return "LSTMUnpack" }
func (LSTMPick) Kind() string            { return "LSTMPick" }
func (ElmanSequence) Kind() string       { return "ElmanSequence" }
func (ElmanSequenceGrad) Kind() string   { return "ElmanSequenceGrad" }
func (Conv2d) Kind() string              { return "Conv2d" }
func (ConvTranspose2d) Kind() string     { return "ConvTranspose2d" }
func (ConvWeightGrad) Kind() string      { return "ConvWeightGrad" }
func (MaxPool2d) Kind() string           { return "MaxPool2d" }
func (MaxPool2dGrad) Kind() string       { return "MaxPool2dGrad" }
func (SumSquares) Kind() string          { return "SumSquares" }
func (AdamStep) Kind() string            { return "AdamStep" }
func (EMAStep) Kind() string             { return "EMAStep" }
func (Swap) Kind() string                { return "Swap" }
func (Dropout) Kind() string             { return "Dropout" }

// Ops that may run in place (element-wise: output i depends on inputs at i only).
func (Add) InPlace() bool     { return true }
func (Sub) InPlace() bool     { return true }
func (Mul) InPlace() bool     { return true }
func (Affine) InPlace() bool  { return true }
func (Map) InPlace() bool     { return true }
func (MapGrad) InPlace() bool { return true }
func (AddBias) InPlace() bool { return true }
func (Dropout) InPlace() bool { return true }
func (GELU) InPlace() bool    { return true }
func (GELUGrad) InPlace() bool {
	return true
}

// Views.
func (Reshape) View() bool { return true }
