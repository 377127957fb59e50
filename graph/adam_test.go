package graph

import (
	"math"
	"testing"
)

// AdamW's first step from zero moments: p ← p·(1 − lr·wd) − lr·g/(|g| + ε), since the
// bias-corrected moments are g and g². Parameters Decays leaves out take the plain step.
func TestAdamWDecaysOnlyChosenParameters(t *testing.T) {
	ps := NewParams()
	w := ps.New("fc.weight", 2)
	b := ps.New("fc.bias", 2)
	copy(w.Data(), []float32{1, -2})
	copy(b.Data(), []float32{1, -2})
	cfg := AdamConfig{LR: 0.1, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.5,
		Decays: func(p *Param) bool { return p.Name == "fc.weight" }}
	NewAdam(ps.All(), cfg).Update([][]float32{{0.5, 0.5}, {0.5, 0.5}})
	step := 0.1 * 0.5 / (0.5 + 1e-8)
	wantW := []float64{1*(1-0.05) - step, -2*(1-0.05) - step}
	wantB := []float64{1 - step, -2 - step}
	for i := range 2 {
		if math.Abs(float64(w.Data()[i])-wantW[i]) > 1e-6 || math.Abs(float64(b.Data()[i])-wantB[i]) > 1e-6 {
			t.Fatalf("weight %v (want %v), bias %v (want %v)", w.Data(), wantW, b.Data(), wantB)
		}
	}
}
