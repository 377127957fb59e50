package models

import (
	"math"
	"testing"

	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/internal/rng"
)

// pixels01 returns the first n images of a set in [0, 1].
func pixels01(im *datasets.Images, n int) []float32 {
	out := make([]float32, n*im.H*im.W)
	for i, p := range im.Pixels[:len(out)] {
		out[i] = float32(p) / 255
	}
	return out
}

// The metric on real data: training images against the test set score near 0 FID and
// near 10 IS with a balanced histogram; noise scores very badly. FID is in the units of the
// judge's features and shrinks with the number of samples (its estimate is biased
// upwards): training images score about 26 with 2,000 samples and 9 with 10,000, against
// about 16,000 for uniform noise.
func TestQualityOfRealAndNoise(t *testing.T) {
	set, err := datasets.LoadImages("")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewScorerFor(set.Test)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	real, err := s.Score(pixels01(set.Train, n), n)
	if err != nil {
		t.Fatal(err)
	}
	if real.FID > 40 || real.IS < 9.3 {
		t.Fatalf("training images: FID %.3f, IS %.3f; want near 0 and near 10", real.FID, real.IS)
	}
	for c, f := range real.Histogram {
		if f < 0.07 || f > 0.13 {
			t.Fatalf("class %d has %.1f%% of training images", c, 100*f)
		}
	}
	noise := make([]float32, n*784)
	rng.New(1).FillUniform(noise, 0, 1)
	bad, err := s.Score(noise, n)
	if err != nil {
		t.Fatal(err)
	}
	if !(bad.FID > 100*math.Max(real.FID, 1)) || bad.IS > 3 {
		t.Fatalf("uniform noise: FID %.3f, IS %.3f; want far worse than real images", bad.FID, bad.IS)
	}
}

// The embedded judge is the classifier aigc trains, and it is accurate.
func TestJudgeAccuracy(t *testing.T) {
	set, err := datasets.LoadImages("")
	if err != nil {
		t.Fatal(err)
	}
	clf, err := Judge()
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	_, probs, err := clf.Judge(pixels01(set.Test, n), n)
	if err != nil {
		t.Fatal(err)
	}
	correct := 0
	for i := range n {
		if argmax(probs[i*10:(i+1)*10]) == int(set.Test.Labels[i]) {
			correct++
		}
	}
	if acc := float64(correct) / n; acc < 0.985 {
		t.Fatalf("judge accuracy %.4f on %d test images", acc, n)
	}
}
