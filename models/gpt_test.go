package models

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/graph"
	"github.com/aigc-go/aigc/internal/rng"
)

func newTestGPT(t *testing.T, text string, sets ...string) *GPT {
	t.Helper()
	cfg := &GPTConfig{}
	if err := configs.Load(cfg, "gpt", "", sets); err != nil {
		t.Fatal(err)
	}
	tok, err := datasets.NewCharTokenizer(text)
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewGPT(cfg, Env{Tokenizer: tok}, rng.New(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// For nanoGPT's model with the same weights and batch, aigc's loss and every parameter's
// gradient agree with PyTorch's (scripts/torch/gpt_fixture.py, float64 there, float32 here).
func TestGPTMatchesPyTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/torch_gpt.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		IDs, Targets []int32
		Params       map[string][]float64
		Loss         float64
		Grads        map[string][]float64
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	m := newTestGPT(t, "abcdefghijk", "n_layer=2", "n_head=2", "n_embd=8", "block_size=5", "batch_size=2", "bias=true")
	setTorchParams(t, m.params, f.Params)
	batch := &datasets.Batch{Rows: 2, Valid: 2, Tokens: make([]int32, 2*6), Weights: make([]float32, 2*5)}
	for r := range 2 {
		copy(batch.Tokens[r*6:], f.IDs[r*5:(r+1)*5])
		batch.Tokens[r*6+5] = f.Targets[r*5+4]
		for j := range 5 {
			batch.Weights[r*5+j] = 1
		}
	}
	if _, err := m.train.feed(batch, true); err != nil {
		t.Fatal(err)
	}
	if err := m.trainProg.Run(); err != nil {
		t.Fatal(err)
	}
	checkTorchStep(t, m.trainProg, m.params, f.Loss, f.Grads)
}

// Sampling with the key/value cache gives, position by position, the logits of a full
// forward pass over the same tokens.
func TestGPTCacheMatchesFullForward(t *testing.T) {
	const block = 6
	m := newTestGPT(t, "abcdefgh", "n_layer=2", "n_head=2", "n_embd=16", "block_size=6", "batch_size=1", "bias=true")
	tokens := []int32{3, 1, 4, 1, 5, 7}
	w := newGPTWindow(1, block)
	var full *graph.Program
	err := graph.Build(func() {
		var err error
		if full, err = graph.Compile(m.forward(w.ids, w.pos, 1, block, false)); err != nil {
			panic(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	for i, id := range tokens {
		graph.Buffer(w.ids)[i] = float32(id)
	}
	if err := full.Run(); err != nil {
		t.Fatal(err)
	}
	want := full.Floats(0)
	if err := m.compileStep(); err != nil {
		t.Fatal(err)
	}
	v := 8
	for pos, id := range tokens {
		got, err := m.step.run(id, pos)
		if err != nil {
			t.Fatal(err)
		}
		for j := range v {
			if d := math.Abs(float64(got[j] - want[pos*v+j])); d > 1e-5 {
				t.Fatalf("position %d logit %d: cached %v, full %v", pos, j, got[j], want[pos*v+j])
			}
		}
	}
}

// The GPT learns a repeating pattern and continues it, past its context length.
func TestGPTLearnsAPattern(t *testing.T) {
	text := strings.Repeat("abcdefg", 300)
	m := newTestGPT(t, text, "n_layer=1", "n_head=2", "n_embd=16", "block_size=8", "batch_size=8",
		"lr=0.01", "warmup_steps=0", "lr_decay=none")
	tok := m.Tokenizer()
	ids, _ := tok.Encode(text)
	s, _ := datasets.NewTokenStream(ids, "pattern", datasets.TokenStreamOptions{BatchSize: 8, Window: 8, Seed: 2, BatchesPerEpoch: 50})
	r := rng.New(3)
	for epoch := range 6 {
		for b := range s.Epoch(context.Background(), epoch, 0) {
			if _, err := m.TrainStep([]*datasets.Batch{b}, r); err != nil {
				t.Fatal(err)
			}
			b.Release()
		}
	}
	val, _ := datasets.NewTokenStream(ids[:300], "pattern", datasets.TokenStreamOptions{BatchSize: 8, Window: 8, Order: datasets.Sweep})
	ms, err := m.Evaluate(context.Background(), val, 1)
	if err != nil {
		t.Fatal(err)
	}
	if ms[0].Value > 0.05 {
		t.Fatalf("validation loss %.4f after training on the pattern", ms[0].Value)
	}
	prompt, _ := tok.Encode("cd")
	var got []int32
	if err := m.Generate(prompt, 20, SampleOptions{Temperature: 0.5}, rng.New(4), func(id int32) error {
		got = append(got, id)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if s := datasets.Decode(tok, got); s != "efgabcdefgabcdefgabc" {
		t.Fatalf("continued \"cd\" with %q", s)
	}
}
