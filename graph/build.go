package graph

import (
	"fmt"
	"runtime"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Graph construction fails only on programming errors (shapes are validated with the
// config before any graph is built), so the layer functions panic with a buildError and
// Build turns that back into an error at the model's boundary. This keeps a model's code as
// plain as its textbook description: h := ReLU(fc1.Forward(x)).
type buildError struct{ err error }

func (e buildError) Error() string { return e.err.Error() }

func must(n *G.Node, err error) *G.Node {
	if err != nil {
		panic(buildError{err})
	}
	return n
}

// Build runs f and returns the first graph-building error raised inside it, or the error
// f panics with (models panic with a failed Compile inside their Build).
func Build(f func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			switch e := r.(type) {
			case buildError:
				err = fmt.Errorf("building graph: %w", e.err)
			case runtime.Error:
				panic(r)
			case error: // f's own panic(err), as a model's compile step does
				err = e
			default:
				panic(r)
			}
		}
	}()
	f()
	return nil
}

// Input adds an input node with a zeroed tensor bound to it. Feed copies a batch into that
// tensor, so inputs are allocated once and reused for every step.
func Input(g *G.ExprGraph, name string, dt tensor.Dtype, shape ...int) *G.Node {
	v := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
	return G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(v))
}

// Feed copies data into the tensor bound to input node n.
func Feed(n *G.Node, data []float32) error {
	if n.Dtype() != tensor.Float32 {
		return fmt.Errorf("feed %s: input is %v, not float32", n.Name(), n.Dtype())
	}
	dst := Buffer(n)
	if len(data) != len(dst) {
		return fmt.Errorf("feed %s: %d values for shape %v", n.Name(), len(data), n.Shape())
	}
	copy(dst, data)
	return nil
}

// Buffer returns the float32 tensor bound to input node n, for filling in place. (Not
// Data(), which boxes the slice in an interface: an allocation per call.)
func Buffer(n *G.Node) []float32 { return n.Value().(*tensor.Dense).Float32s() }

// Scalar returns a constant scalar of the graph's element type.
func Scalar(like *G.Node, v float64) *G.Node {
	if like.Dtype() == tensor.Float64 {
		return G.NewConstant(v)
	}
	return G.NewConstant(float32(v))
}

// MeanWeights fills w with the weights that turn a weighted sum over a batch's rows into
// the mean over its first valid rows: 1/valid for those, 0 for the padding rows after them.
func MeanWeights(w []float32, valid int) {
	for i := range w {
		if i < valid {
			w[i] = 1 / float32(valid)
		} else {
			w[i] = 0
		}
	}
}
