// Package graph holds aigc's engine as models see it: the building blocks models use to
// describe their computations as Gorgonia expression graphs (parameters, layers, losses,
// the Ops), the optimisers, and Program, the one small interface through which a compiled
// graph is run.
//
// Gorgonia builds the graphs and differentiates them symbolically. Every node of a program
// is one of aigc's Ops (op_*.go: the element-wise functions too, so that nothing runs
// through Gorgonia's own arithmetic) or one of the sums Gorgonia inserts to add a value's
// gradient terms. An Op is defined here once: its type, shape rule and gradient, and the
// executor's op it lowers to (graph/exec/ops.go, the catalog); its arithmetic is each
// device's kernel for that op (graph/cpu, and a GPU's).
//
// Compile lowers the subgraph its outputs need (lower.go) and compiles it on aigc's
// executor (graph/exec) for the device in use, the CPU by default. Gorgonia's TapeMachine
// (AIGC_BACKEND=tape, or UseBackend(Tape)) runs the same graphs op by op through the CPU's
// reference kernels: the reference the executor is tested against. The optimisers' steps
// (Adam with clipping and the moving average of the weights, fused into one pass over each
// parameter) are executor programs on the same device, so on a GPU the parameters never
// leave it; ToHost and ToDevice move them where the host reads or writes them
// (checkpoints).
//
// Parameters follow PyTorch's layout and names: a Linear layer's weight is [out, in] and is
// called "<layer>.weight", so a checkpoint loads into the equivalent torch.nn module.
package graph
