// Package exec is aigc's executor: it turns a computation graph into a flat list of
// instructions over planned buffers and runs them on a Device. It knows nothing of
// Gorgonia or of any model: graph/ lowers its compiled Gorgonia subgraphs into a Graph
// (values and nodes in execution order) and calls Compile; each device package registers
// its kernels here.
//
// # Ops and kernels
//
// An Op is one operation as devices see it: a kind, which names the kernel, and the
// attributes the kernel reads (the Op value itself, one of the types in ops.go). The op's
// definition (its shape rules and its gradient) lives in graph/; its arithmetic is one
// kernel per device, registered under the op's kind (PyTorch's dispatcher, TensorFlow's
// kernel registrations). A kernel is prepared once per instruction, given the op and its
// operands (type, shape and device buffer of each input and of the output), and returns
// the Launch that runs it: the CPU's captures its slices, a GPU's its launch parameters,
// so a step runs with no dispatch, no shape checks and no allocation. An op with no kernel
// on the chosen device is an error of Compile that names every such op.
//
// # Memory
//
// Leaves (parameters, inputs the caller fills, constants) are host memory bound to the
// device with Bind; outputs are host memory the program owns, bound the same way. Every
// other value lives in one arena per element type, allocated once per program: Compile
// plans each value's place by liveness (a dead value's space is reused by a later one of
// any size; an op that allows it writes over its first input when nothing reads that input
// later; a view, such as a reshape, shares its input's storage). Kernels that need
// temporary memory ask for Scratch when prepared; all of a program's scratch shares one
// buffer, since instructions run one at a time. A steady-state Run allocates nothing.
//
// # Devices
//
// A Device is memory (Alloc, Sub, Free), the host binding (Bind, CopyIn, CopyOut) and a
// kernel table. The CPU device (graph/cpu) binds host memory in place, so its copies are
// no-ops; a GPU device binds a host slice to a buffer in its own memory, one per host
// slice however many programs bind it (so the parameters a model's training, evaluation
// and sampling programs share live on the GPU once), copies fed inputs in before each Run
// and outputs out after it, and queues launches on a stream that Sync waits for. Host code
// that changes bound memory between runs (loading a checkpoint) calls CopyIn; host code
// that reads memory the device changed (saving one) calls CopyOut. The CUDA backend is a
// second implementation of this interface and of the kernel table; the planner, the
// programs and the graph lowering are shared.
//
// # Programs that update state
//
// A node may have no output (Out < 0): it updates some of its inputs in place, as the
// optimiser step updates parameters and moments. Such inputs are leaves; the planner never
// reuses their memory.
package exec
