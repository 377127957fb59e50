package models

import (
	"math"
	"testing"

	"github.com/aigc-go/aigc/graph"
)

// setTorchParams copies a PyTorch fixture's parameters into ps by name, failing unless the
// two hold the same parameters with the same sizes.
func setTorchParams(t *testing.T, ps *graph.Params, params map[string][]float64) {
	t.Helper()
	if len(ps.All()) != len(params) {
		t.Fatalf("aigc has %d parameters, PyTorch %d", len(ps.All()), len(params))
	}
	for _, p := range ps.All() {
		want, ok := params[p.Name]
		if !ok || len(want) != len(p.Data()) {
			t.Fatalf("parameter %s %v: PyTorch has %d values", p.Name, p.Shape(), len(want))
		}
		for i, v := range want {
			p.Data()[i] = float32(v)
		}
	}
}

// checkTorchStep compares a run's loss (relative 1e-5) and every parameter's gradient
// (1e-4 of the largest of that parameter's PyTorch gradients) with a fixture's float64
// values.
func checkTorchStep(t *testing.T, gr *graph.Gradients, ps *graph.Params, loss float64, grads map[string][]float64) {
	t.Helper()
	if got := gr.Float(0); math.Abs(got-loss) > 1e-5*loss {
		t.Fatalf("loss %.7g, PyTorch %.7g", got, loss)
	}
	for i, p := range ps.All() {
		want := grads[p.Name]
		var scale float64
		for _, w := range want {
			scale = max(scale, math.Abs(w))
		}
		for j, g := range gr.Grad(i) {
			if d := math.Abs(float64(g) - want[j]); d > 1e-4*scale+1e-7 {
				t.Fatalf("grad %s[%d] = %.7g, PyTorch %.7g", p.Name, j, g, want[j])
			}
		}
	}
}
