package graph

import "math"

// ClipGlobalNorm scales every gradient by maxNorm/‖g‖ when the global norm ‖g‖ (over all
// gradients together, as torch.nn.utils.clip_grad_norm_) exceeds maxNorm, and returns ‖g‖
// before clipping. A maxNorm of 0 only measures. A NaN or infinite norm is returned as is
// and nothing is scaled: the trainer stops on it.
func ClipGlobalNorm(grads [][]float32, maxNorm float64) float64 {
	var sum float64
	for _, g := range grads {
		var s float64
		for _, v := range g {
			s += float64(v) * float64(v)
		}
		sum += s
	}
	norm := math.Sqrt(sum)
	if maxNorm > 0 && norm > maxNorm && !math.IsInf(norm, 0) {
		// PyTorch's factor, with its 1e-6 guarding a zero norm.
		scale := float32(maxNorm / (norm + 1e-6))
		for _, g := range grads {
			for i := range g {
				g[i] *= scale
			}
		}
	}
	return norm
}
