package models

import (
	"context"
	"testing"

	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/internal/rng"
)

// benchLM times training steps of a language model's default config on tiny Shakespeare's
// characters, reporting tokens/s and the GFLOP/s of its matrix products.
func benchLM(b *testing.B, family string) {
	c, err := datasets.LoadCorpus("")
	if err != nil {
		b.Fatal(err)
	}
	tok, _ := datasets.NewCharTokenizer(c.Text)
	ids, _ := tok.Encode(c.Train)
	f, _ := Lookup(family)
	cfg := f.NewConfig()
	if err := configs.Load(cfg, family, "", nil); err != nil {
		b.Fatal(err)
	}
	m, err := f.Build(cfg, Env{Tokenizer: tok}, rng.New(1))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	rows, window := cfg.TrainConfig().BatchSize, cfg.(TextConfig).TextConfig().BlockSize
	s, err := datasets.NewTokenStream(ids, "train", datasets.TokenStreamOptions{BatchSize: rows, Window: window, Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	batch := <-s.Epoch(context.Background(), 0, 0)
	benchSteps(b, m, batch, "tokens/s", rows*window)
}

func BenchmarkRNNTrainStep(b *testing.B)  { benchLM(b, "rnn") }
func BenchmarkLSTMTrainStep(b *testing.B) { benchLM(b, "lstm") }

func BenchmarkGPTTrainStep(b *testing.B) { benchLM(b, "gpt") }
