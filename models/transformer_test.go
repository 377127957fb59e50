package models

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"testing"

	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/internal/rng"
)

// A small encoder-decoder learns to reverse short digit sequences, greedy and beam
// decoding agree on what it learnt, and evaluation counts exact matches.
func TestTransformerLearnsToReverse(t *testing.T) {
	set, err := datasets.GenerateTask("reverse", 3000, 100, 3, 5, 1)
	if err != nil {
		t.Fatal(err)
	}
	vocab := datasets.NewVocab(append(set.Train, set.Test...))
	env := Env{Vocab: vocab, SrcLen: 5, TgtLen: 6}
	cfg := &TransformerConfig{}
	if err := configs.Load(cfg, "transformer", "", []string{"preset=custom", "d_model=32", "heads=2", "ff=64",
		"enc_layers=1", "dec_layers=1", "dropout=0", "batch_size=32", "lr=3e-3", "warmup_steps=50", "lr_decay=none"}); err != nil {
		t.Fatal(err)
	}
	m, err := NewTransformer(cfg, env, rng.New(1))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	encode := func(pairs []datasets.Pair) (src, tgt [][]int32) {
		for _, p := range pairs {
			s, _ := vocab.Encode(p.Source)
			d, _ := vocab.Encode(p.Target)
			src, tgt = append(src, s), append(tgt, d)
		}
		return
	}
	src, tgt := encode(set.Train)
	train, _ := datasets.NewPairStream(src, tgt, 32, 5, 6, true, 1, datasets.Shard{})
	r := rng.New(2)
	step := 0
	for epoch := range 8 {
		for b := range train.Epoch(context.Background(), epoch, 0) {
			m.opt.LR = 3e-3 * min(1, float64(step+1)/50)
			if _, err := m.TrainStep([]*datasets.Batch{b}, r); err != nil {
				t.Fatal(err)
			}
			step++
		}
	}
	tsrc, ttgt := encode(set.Test)
	test, _ := datasets.NewPairStream(tsrc, ttgt, 32, 5, 6, false, 1, datasets.Shard{})
	ms, err := m.Evaluate(context.Background(), test, 1)
	if err != nil {
		t.Fatal(err)
	}
	if exact, _ := ms.Get("exact"); exact < 0.9 {
		t.Fatalf("after %d steps: %v", step, ms)
	}
	greedy, err := m.Translate(tsrc[:5], 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		beam, err := m.Translate(tsrc[i:i+1], 3)
		if err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(tsrc[i])
		slices.Reverse(want)
		if !slices.Equal(beam[0], want) && !slices.Equal(greedy[i], want) {
			t.Errorf("%v: greedy %v, beam %v", tsrc[i], greedy[i], beam[0])
		}
	}
}

// The encoder-decoder's teacher-forced loss and every parameter's gradient agree with a
// PyTorch rendering of the same model and weights (scripts/torch/transformer_fixture.py,
// float64 there), on a batch with padded sources and targets.
func TestTransformerMatchesPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/torch_transformer.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Source, DecIn, DecOut  []int32
		SourceMask, TargetMask []float32
		Params, Grads          map[string][]float64
		Loss                   float64
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var raw map[string]json.RawMessage
	json.Unmarshal(b, &raw)
	for key, dst := range map[string]any{"source_mask": &f.SourceMask, "dec_in": &f.DecIn, "dec_out": &f.DecOut, "target_mask": &f.TargetMask} {
		if err := json.Unmarshal(raw[key], dst); err != nil {
			t.Fatal(err)
		}
	}
	toks := []string{"<pad>", "<bos>", "<eos>", "a", "b", "c", "d", "e", "f"}
	env := Env{Vocab: datasets.VocabOf(toks), SrcLen: 4, TgtLen: 5}
	cfg := &TransformerConfig{}
	if err := configs.Load(cfg, "transformer", "", []string{"preset=custom", "d_model=8", "heads=2", "ff=16",
		"enc_layers=1", "dec_layers=1", "dropout=0", "batch_size=2"}); err != nil {
		t.Fatal(err)
	}
	m, err := NewTransformer(cfg, env, rng.New(1))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	setTorchParams(t, m.params, f.Params)
	pb := &datasets.PairBatch{Rows: 2, S: 4, T: 5, Valid: 2, Source: f.Source, SourceMask: f.SourceMask,
		DecIn: f.DecIn, DecOut: f.DecOut, TargetMask: f.TargetMask}
	m.train.feed(pb, true)
	if err := m.trainProg.Run(); err != nil {
		t.Fatal(err)
	}
	checkTorchStep(t, m.trainProg, m.params, f.Loss, f.Grads)
}
