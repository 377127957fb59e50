// Package graph holds aigc's engine: the building blocks models use to describe their
// computations as Gorgonia expression graphs (parameters, layers, losses, the Ops Gorgonia
// lacks or gets wrong), the optimisers that update parameters in place, and Program, the
// one small interface through which a compiled graph is run.
//
// Gorgonia builds the graphs and differentiates them symbolically. Running them goes
// through Program so that the machine underneath (Gorgonia's TapeMachine today, aigc's own
// executor and a CUDA backend later) can change without touching the models.
//
// Parameters follow PyTorch's layout and names: a Linear layer's weight is [out, in] and is
// called "<layer>.weight", so a checkpoint loads into the equivalent torch.nn module.
package graph
