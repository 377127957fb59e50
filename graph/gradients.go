package graph

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

// Gradients is a compiled training computation: a scalar loss, its gradients with respect
// to a set of parameters, and any other values a model reports (loss terms, discriminator
// outputs). The gradients are outputs of the program, computed afresh by every Run, so
// nothing accumulates between steps and there is nothing to zero.
type Gradients struct {
	*Program
	Params  []*Param
	nReport int
	grads   [][]float32 // Grads' result, reused
}

// CompileGradients differentiates loss with respect to params (as used in loss's graph)
// and compiles loss, the report values and the gradients into one program. Output 0 is the
// loss, outputs 1..len(report) the report values.
func CompileGradients(loss *G.Node, params []*Param, report ...*G.Node) (*Gradients, error) {
	g := loss.Graph()
	wrt := make(G.Nodes, len(params))
	for i, p := range params {
		wrt[i] = p.Node(g)
	}
	grads, err := G.Grad(loss, wrt...)
	if err != nil {
		return nil, fmt.Errorf("differentiating %v: %w", loss, err)
	}
	outputs := append(append(G.Nodes{loss}, report...), grads...)
	prog, err := Compile(outputs...)
	if err != nil {
		return nil, err
	}
	return &Gradients{Program: prog, Params: params, nReport: len(report)}, nil
}

// Grad returns the gradient of parameter i after Run.
func (gr *Gradients) Grad(i int) []float32 { return gr.Floats(1 + gr.nReport + i) }

// Grads returns every parameter's gradient after Run, in Params order. The list is reused
// by every call.
func (gr *Gradients) Grads() [][]float32 {
	if gr.grads == nil {
		gr.grads = make([][]float32, len(gr.Params))
	}
	for i := range gr.grads {
		gr.grads[i] = gr.Grad(i)
	}
	return gr.grads
}
