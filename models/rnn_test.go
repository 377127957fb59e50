package models

import (
	"context"
	"math"
	"testing"

	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/internal/rng"
)

// The float32 gradients of an RNN over a 24-step window of real text agree with finite
// differences of its loss. (With Gorgonia's Concat joining [x; h] they did not beyond
// about 10 steps, and the RNN could not learn.)
func TestRNNGradientsOnALongWindow(t *testing.T) {
	c, _ := datasets.LoadCorpus("")
	tok, _ := datasets.NewCharTokenizer(c.Text)
	ids, _ := tok.Encode(c.Train[:20000])
	cfg := &RNNConfig{}
	if err := configs.Load(cfg, "rnn", "", []string{"block_size=24", "hidden=32", "batch_size=8"}); err != nil {
		t.Fatal(err)
	}
	built, err := NewRNN(cfg, Env{Tokenizer: tok}, rng.New(1))
	if err != nil {
		t.Fatal(err)
	}
	m := built.(*recurrentLM)
	defer m.Close()
	s, _ := datasets.NewTokenStream(ids, "train", datasets.TokenStreamOptions{BatchSize: 8, Window: 24, Seed: 1})
	b := <-s.Epoch(context.Background(), 0, 0)
	if _, err := m.train.feed(b, true); err != nil {
		t.Fatal(err)
	}
	loss := func() float64 {
		if err := m.trainProg.Run(); err != nil {
			t.Fatal(err)
		}
		return m.trainProg.Float(0)
	}
	loss()
	for pi, p := range m.params.All() {
		if p.Name != "i2o.bias" && p.Name != "i2h.bias" {
			continue
		}
		analytic := append([]float32(nil), m.trainProg.Grad(pi)...)
		d := p.Data()
		for j := range d {
			orig := d[j]
			const h = 1e-2
			d[j] = orig + h
			up := loss()
			d[j] = orig - h
			down := loss()
			d[j] = orig
			numeric := (up - down) / (2 * h)
			if diff := math.Abs(numeric - float64(analytic[j])); diff > 2e-4+0.03*math.Abs(numeric) {
				t.Errorf("%s[%d]: analytic %.6g, numeric %.6g", p.Name, j, analytic[j], numeric)
			}
		}
	}
}
