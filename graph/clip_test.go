package graph

import (
	"math"
	"testing"
)

func TestClipGlobalNorm(t *testing.T) {
	grads := [][]float32{{3, 0}, {0, 4}} // global norm 5
	if n := ClipGlobalNorm(grads, 10); n != 5 || grads[0][0] != 3 || grads[1][1] != 4 {
		t.Fatalf("below the limit: norm %g, grads %v", n, grads)
	}
	if n := ClipGlobalNorm(grads, 1); n != 5 {
		t.Fatalf("norm %g, want 5", n)
	}
	// torch.nn.utils.clip_grad_norm_ gives 3/5·(1/(5+1e-6)) ·5 = 0.59999988
	if math.Abs(float64(grads[0][0])-0.6) > 1e-6 || math.Abs(float64(grads[1][1])-0.8) > 1e-6 {
		t.Fatalf("clipped to %v, want [0.6 0] [0 0.8]", grads)
	}
	before := grads[1][1]
	if n := ClipGlobalNorm(grads, 0); math.Abs(n-1) > 1e-6 || grads[1][1] != before {
		t.Fatalf("measuring only: %g %v", n, grads)
	}
}
