package configs

import "fmt"

// Train holds the settings of the training loop and optimiser that every family shares.
// Families embed it inline in their own config type.
type Train struct {
	Epochs    int     `yaml:"epochs"`
	BatchSize int     `yaml:"batch_size"`
	LR        float64 `yaml:"lr"`
	Beta1     float64 `yaml:"beta1"`
	Beta2     float64 `yaml:"beta2"`
	Eps       float64 `yaml:"eps"`
	SaveEvery int     `yaml:"save_every"`
	LogEvery  int     `yaml:"log_every"`
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
	}
	return nil
}
