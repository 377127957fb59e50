package models

import (
	"context"
	_ "embed"
	"fmt"
	"sync"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/internal/rng"
	"github.com/aigc-go/aigc/internal/stats"
)

// The judge of generated images: the classifier trained by `aigc train classifier` with
// its default config, weights embedded here (`make classifier-weights` reproduces them).
//
//go:embed classifier.safetensors
var judgeWeights []byte

var judge struct {
	once sync.Once
	clf  *Classifier
	err  error
}

// Judge returns the embedded classifier, loaded once per process.
func Judge() (*Classifier, error) {
	judge.once.Do(func() {
		judge.clf, judge.err = loadJudge()
	})
	return judge.clf, judge.err
}

func loadJudge() (*Classifier, error) {
	f, err := checkpoints.Decode(judgeWeights, "embedded classifier.safetensors")
	if err != nil {
		return nil, err
	}
	meta, err := f.DecodeMeta()
	if err != nil {
		return nil, err
	}
	cfg := &ClassifierConfig{}
	if err := configs.FromJSON(cfg, "classifier", meta.Config, "embedded classifier config"); err != nil {
		return nil, err
	}
	env, err := EnvOf(f, meta)
	if err != nil {
		return nil, err
	}
	m, err := newClassifierNet(cfg, env, rng.New(0))
	if err != nil {
		return nil, err
	}
	if err := LoadState(m, f, meta, false); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// Quality is how generated images compare with real ones, through the judge.
type Quality struct {
	Samples int     `json:"samples"`
	FID     float64 `json:"fid"`             // Fréchet distance of penultimate features: 0 for identical distributions
	IS      float64 `json:"inception_score"` // 1 (one class, or unsure) to 10 (confident and balanced)
	ISStd   float64 `json:"inception_score_std"`
	// Histogram is the fraction of images the judge assigns to each class; a class
	// missing or dominating shows mode collapse.
	Histogram []float64 `json:"class_histogram"`
}

// Scorer compares images with a reference set (the test split).
type Scorer struct {
	clf *Classifier
	ref stats.Gaussian
}

// NewScorer fits the judge's features of n reference images (n×H×W pixels in [0,1]),
// normally a test split.
func NewScorer(pixels []float32, n int, env Env) (*Scorer, error) {
	clf, err := Judge()
	if err != nil {
		return nil, err
	}
	if env != clf.env {
		return nil, fmt.Errorf("the judge reads %dx%d images, not %dx%d", clf.env.ImageH, clf.env.ImageW, env.ImageH, env.ImageW)
	}
	features, _, err := clf.Judge(pixels, n)
	if err != nil {
		return nil, err
	}
	g, err := stats.Fit(features, n, clf.cfg.Hidden)
	if err != nil {
		return nil, err
	}
	return &Scorer{clf: clf, ref: g}, nil
}

// NewScorerFor fits the judge's features of an image set (its test split, say).
func NewScorerFor(im *datasets.Images) (*Scorer, error) {
	pixels := make([]float32, len(im.Pixels))
	for i, p := range im.Pixels {
		pixels[i] = float32(p) / 255
	}
	return NewScorer(pixels, im.N, Env{ImageH: im.H, ImageW: im.W})
}

// Score judges n images (n×H×W pixels in [0,1]).
func (s *Scorer) Score(images []float32, n int) (Quality, error) {
	q := Quality{Samples: n}
	features, probs, err := s.clf.Judge(images, n)
	if err != nil {
		return q, err
	}
	g, err := stats.Fit(features, n, s.clf.cfg.Hidden)
	if err != nil {
		return q, err
	}
	if q.FID, err = stats.FrechetDistance(g, s.ref); err != nil {
		return q, err
	}
	splits := min(10, n)
	if q.IS, q.ISStd, err = stats.InceptionScore(probs, n, s.clf.cfg.Classes, splits); err != nil {
		return q, err
	}
	q.Histogram = stats.ClassHistogram(probs, n, s.clf.cfg.Classes)
	return q, nil
}

// heldOutPixels reads every real example of an evaluation stream, mapping pixels from the
// stream's range [lo, hi] back to [0, 1].
func heldOutPixels(ctx context.Context, s datasets.Stream, lo, hi float32) ([]float32, int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var pixels []float32
	n := 0
	for b := range s.Epoch(ctx, 0, 0) {
		width := len(b.X) / b.Rows
		for _, v := range b.X[:b.Valid*width] {
			pixels = append(pixels, (v-lo)/(hi-lo))
		}
		n += b.Valid
		b.Release()
	}
	return pixels, n, ctx.Err()
}
