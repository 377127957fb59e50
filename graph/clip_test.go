package graph

import (
	"math"
	"testing"
)

// twoParams returns parameters of two elements each at 1, and an optimiser over them.
func twoParams() (*Params, *Adam) {
	ps := NewParams()
	for _, n := range []string{"a", "b"} {
		Fill(ps.New(n, 2), 1)
	}
	return ps, NewAdam(ps.All(), AdamConfig{LR: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8})
}

// Clipping scales the gradients by limit/(‖g‖+1e-6) inside the step when the global norm
// exceeds the limit (torch.nn.utils.clip_grad_norm_), leaves them when it does not, and
// reports the norm before clipping; a non-finite norm leaves everything as it was.
func TestAdamClipped(t *testing.T) {
	grads := [][]float32{{3, 0}, {0, 4}} // global norm 5
	for _, c := range []struct {
		limit, scale float64
	}{{10, 1}, {0, 1}, {1, 1 / (5 + 1e-6)}} {
		ps, opt := twoParams()
		if n := opt.Clipped(grads, c.limit); math.Abs(n-5) > 1e-6 {
			t.Fatalf("limit %g: norm %g, want 5", c.limit, n)
		}
		if grads[0][0] != 3 || grads[1][1] != 4 {
			t.Fatalf("the step changed the gradients: %v", grads)
		}
		// The same step taken on gradients scaled beforehand.
		want, ref := twoParams()
		ref.Update([][]float32{{float32(3 * c.scale), 0}, {0, float32(4 * c.scale)}})
		for i, p := range ps.All() {
			for j, v := range p.Data() {
				if w := want.All()[i].Data()[j]; math.Abs(float64(v-w)) > 1e-7 {
					t.Fatalf("limit %g: %s = %v, want %v", c.limit, p.Name, p.Data(), want.All()[i].Data())
				}
			}
		}
		if opt.Steps != 1 {
			t.Fatalf("steps %d after one", opt.Steps)
		}
	}
	ps, opt := twoParams()
	if n := opt.Clipped([][]float32{{float32(math.Inf(1)), 0}, {0, 1}}, 1); !math.IsInf(n, 1) {
		t.Fatalf("norm %g, want +Inf", n)
	}
	for _, p := range ps.All() {
		if p.Data()[0] != 1 || p.Data()[1] != 1 || opt.Steps != 0 {
			t.Fatalf("a non-finite norm changed %s to %v (steps %d)", p.Name, p.Data(), opt.Steps)
		}
	}
}
