package configs

import (
	"fmt"
	"math"
)

// Train holds the settings of the training loop and optimiser that every family shares.
// Families embed it inline in their own config type.
type Train struct {
	Epochs    int `yaml:"epochs" limit:"1000000"`
	BatchSize int `yaml:"batch_size"`
	// GradAccumSteps is how many batches' gradients one optimiser step averages (nanoGPT's
	// gradient_accumulation_steps): the step of a batch of batch_size·grad_accum_steps
	// rows, in the memory of one batch.
	GradAccumSteps int     `yaml:"grad_accum_steps" limit:"65536"`
	LR             float64 `yaml:"lr"`
	Beta1          float64 `yaml:"beta1"`
	Beta2          float64 `yaml:"beta2"`
	Eps            float64 `yaml:"eps"`
	SaveEvery      int     `yaml:"save_every" limit:"1000000000"`
	LogEvery       int     `yaml:"log_every" limit:"1000000000"`
	// Learning-rate schedule: linear warm-up over warmup_steps, then with lr_decay cosine
	// (nanoGPT's) a half cosine from lr down to min_lr at the last step of the last epoch;
	// with wsd (warm-up, stable, decay) lr stays constant until the last decay_frac of
	// the steps and falls linearly to min_lr over them; none (or empty) keeps lr constant
	// after the warm-up.
	LRDecay     string  `yaml:"lr_decay"`
	WarmupSteps int     `yaml:"warmup_steps" limit:"1000000000"`
	MinLR       float64 `yaml:"min_lr"`
	DecayFrac   float64 `yaml:"decay_frac"`
	// DecaySteps, when set, is the step by which the cosine reaches min_lr (nanoGPT's
	// lr_decay_iters; a family's Resolve sets it). 0: the last step of the last epoch.
	DecaySteps int `yaml:"-"`
	// EMA, when above 0, is the decay of an exponential moving average of the weights
	// that evaluation, sampling and the best checkpoint use (0: the weights as trained).
	EMA float64 `yaml:"ema"`
	// MatmulPrecision is the GPU's matrix-product arithmetic, as PyTorch's
	// torch.set_float32_matmul_precision names it: high lets cuBLAS use TF32 tensor cores
	// (Ampere and newer), highest keeps float32 throughout. The CPU computes in float32.
	MatmulPrecision string `yaml:"matmul_precision"`
	// Divergence beyond NaN: an evaluation loss above diverge_factor times the run's first
	// training loss (where the two measure the same thing), or above diverge_above, stops
	// the run and keeps its last good checkpoint. 0 turns either check off.
	DivergeFactor float64 `yaml:"diverge_factor"`
	DivergeAbove  float64 `yaml:"diverge_above"`
}

// LRScale returns the factor on lr at a step (0-based) of a run of total steps.
func (t *Train) LRScale(step, total int) float64 {
	if step < t.WarmupSteps {
		return float64(step+1) / float64(t.WarmupSteps)
	}
	if t.DecaySteps > 0 {
		total = t.DecaySteps
	}
	minScale := t.MinLR / t.LR
	switch {
	case t.LRDecay == "cosine" && total > t.WarmupSteps:
		progress := min(1, float64(step-t.WarmupSteps)/float64(total-t.WarmupSteps))
		return minScale + 0.5*(1+math.Cos(math.Pi*progress))*(1-minScale)
	case t.LRDecay == "wsd" && t.DecayFrac > 0:
		// The cool-down starts at a step, so the rate at each step depends on total alone.
		cool := t.DecayFrac * float64(total)
		start := float64(total) - cool
		if float64(step) < start {
			return 1
		}
		return 1 - min(1, (float64(step)-start)/cool)*(1-minScale)
	}
	return 1
}

// Iterative is a config whose run is a number of iterations (optimiser steps), as
// nanoGPT's max_iters counts them, rather than of epochs.
type Iterative interface {
	Iterations() int
}

// TrainConfig gives the trainer access to the shared settings of any family's config.
func (t *Train) TrainConfig() *Train { return t }

// Validate checks the shared settings.
func (t *Train) Validate() error {
	switch {
	case t.Epochs < 0:
		return fmt.Errorf("epochs must be >= 0 (got %d)", t.Epochs)
	case t.BatchSize <= 0:
		return fmt.Errorf("batch_size must be > 0 (got %d)", t.BatchSize)
	case t.GradAccumSteps <= 0:
		return fmt.Errorf("grad_accum_steps must be > 0 (got %d)", t.GradAccumSteps)
	case !(t.LR > 0):
		return fmt.Errorf("lr must be > 0 (got %g)", t.LR)
	case !(t.Beta1 >= 0 && t.Beta1 < 1):
		return fmt.Errorf("beta1 must be in [0, 1) (got %g)", t.Beta1)
	case !(t.Beta2 >= 0 && t.Beta2 < 1):
		return fmt.Errorf("beta2 must be in [0, 1) (got %g)", t.Beta2)
	case !(t.Eps > 0):
		return fmt.Errorf("eps must be > 0 (got %g)", t.Eps)
	case t.SaveEvery < 0:
		return fmt.Errorf("save_every must be >= 0 (got %d)", t.SaveEvery)
	case t.LogEvery <= 0:
		return fmt.Errorf("log_every must be > 0 (got %d)", t.LogEvery)
	case t.LRDecay != "" && t.LRDecay != "none" && t.LRDecay != "cosine" && t.LRDecay != "wsd":
		return fmt.Errorf("lr_decay must be none, cosine or wsd (got %q)", t.LRDecay)
	case !(t.DecayFrac >= 0 && t.DecayFrac <= 1):
		return fmt.Errorf("decay_frac must be in [0, 1] (got %g)", t.DecayFrac)
	case t.WarmupSteps < 0:
		return fmt.Errorf("warmup_steps must be >= 0 (got %d)", t.WarmupSteps)
	case !(t.MinLR >= 0 && t.MinLR <= t.LR):
		return fmt.Errorf("min_lr must be in [0, lr] (got %g)", t.MinLR)
	case !(t.EMA >= 0 && t.EMA < 1):
		return fmt.Errorf("ema must be in [0, 1) (got %g)", t.EMA)
	case !(t.DivergeFactor >= 0):
		return fmt.Errorf("diverge_factor must be >= 0 (got %g)", t.DivergeFactor)
	case !(t.DivergeAbove >= 0):
		return fmt.Errorf("diverge_above must be >= 0 (got %g)", t.DivergeAbove)
	case t.MatmulPrecision != "" && t.MatmulPrecision != "high" && t.MatmulPrecision != "highest":
		return fmt.Errorf("matmul_precision must be high or highest (got %q)", t.MatmulPrecision)
	}
	return nil
}
