package models

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/internal/rng"
)

func TestPickToken(t *testing.T) {
	logits := []float32{1, 3, 2, 0.5}
	scratch := make([]tokenProb, 4)
	r := rng.New(1)
	if id := pickToken(logits, SampleOptions{}, r, scratch); id != 1 {
		t.Fatalf("greedy picked %d", id)
	}
	if id := pickToken(logits, SampleOptions{Temperature: 5, TopK: 1}, r, scratch); id != 1 {
		t.Fatalf("top-1 picked %d", id)
	}
	// At temperature 1 the frequencies follow softmax(logits).
	counts := make([]float64, 4)
	const n = 200000
	for range n {
		counts[pickToken(logits, SampleOptions{Temperature: 1}, r, scratch)]++
	}
	var z float64
	for _, l := range logits {
		z += math.Exp(float64(l))
	}
	for i, l := range logits {
		if p := math.Exp(float64(l)) / z; math.Abs(counts[i]/n-p) > 0.005 {
			t.Errorf("token %d drawn %.4f of the time, softmax says %.4f", i, counts[i]/n, p)
		}
	}
	// softmax ≈ [0.09 0.63 0.23 0.05]: top-p 0.8 keeps tokens 1 and 2 only; top-k 3 drops token 3.
	for range 2000 {
		if id := pickToken(logits, SampleOptions{Temperature: 1, TopP: 0.8}, r, scratch); id != 1 && id != 2 {
			t.Fatalf("top-p 0.8 drew token %d", id)
		}
		if id := pickToken(logits, SampleOptions{Temperature: 1, TopK: 3}, r, scratch); id == 3 {
			t.Fatal("top-k 3 drew the least likely token")
		}
	}
	for _, bad := range []SampleOptions{{Temperature: -1}, {TopK: -1}, {TopP: 1.5}, {Temperature: math.NaN()}} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// newLM builds a language model of a family over text's characters.
func newLM(t *testing.T, family, text string, sets ...string) (Model, datasets.Tokenizer) {
	t.Helper()
	f, err := Lookup(family)
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.NewConfig()
	if err := configs.Load(cfg, family, "", sets); err != nil {
		t.Fatal(err)
	}
	tok, err := datasets.NewCharTokenizer(text)
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.Build(cfg, Env{Tokenizer: tok}, rng.New(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, tok
}

// A model that can learn a repeating pattern learns it, and then writes it.
func TestRecurrentModelsLearnAPattern(t *testing.T) {
	text := strings.Repeat("abcde", 400)
	for family, sets := range map[string][]string{
		"rnn":  {"hidden=32", "block_size=10", "batch_size=8", "lr=0.01"},
		"lstm": {"hidden=32", "embed=8", "block_size=10", "batch_size=8", "lr=0.01", "layers=2", "dropout=0"},
	} {
		t.Run(family, func(t *testing.T) {
			m, tok := newLM(t, family, text, sets...)
			ids, _ := tok.Encode(text)
			s, err := datasets.NewTokenStream(ids, "pattern", datasets.TokenStreamOptions{BatchSize: 8, Window: 10, Seed: 2})
			if err != nil {
				t.Fatal(err)
			}
			val, _ := datasets.NewTokenStream(ids[:200], "pattern", datasets.TokenStreamOptions{BatchSize: 8, Window: 10, Order: datasets.Sweep})
			before, err := m.Evaluate(context.Background(), val, 1)
			if err != nil {
				t.Fatal(err)
			}
			// Untrained, the prediction is close to uniform over the 5 characters.
			if l := before[0].Value; math.Abs(l-math.Log(5)) > 0.5 {
				t.Fatalf("untrained loss %.3f, want about ln 5 = 1.609", l)
			}
			r := rng.New(3)
			for epoch := range 12 {
				for b := range s.Epoch(context.Background(), epoch, 0) {
					ms, err := m.TrainStep([]*datasets.Batch{b}, r)
					b.Release()
					if err != nil {
						t.Fatal(err)
					}
					if ms[0].Name != "loss" || math.IsNaN(ms[0].Value) {
						t.Fatalf("step metrics %v", ms)
					}
				}
			}
			after, err := m.Evaluate(context.Background(), val, 1)
			if err != nil {
				t.Fatal(err)
			}
			if after[0].Value > 0.05 {
				t.Fatalf("validation loss %.4f after training on the pattern (was %.4f)", after[0].Value, before[0].Value)
			}
			if bpc, _ := after.Get("bpc"); math.Abs(bpc-after[0].Value/math.Ln2) > 1e-9 {
				t.Fatalf("bits per character %g for loss %g", bpc, after[0].Value)
			}
			prompt, _ := tok.Encode("ab")
			var got []int32
			gen := m.(TextGenerator)
			if err := gen.Generate(prompt, 8, SampleOptions{Temperature: 0.5}, rng.New(4), func(id int32) error {
				got = append(got, id)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if s := datasets.Decode(tok, got); s != "cdeabcde" {
				t.Fatalf("continued \"ab\" with %q, want \"cdeabcde\"", s)
			}
		})
	}
}

// With carry_state the state after a window starts the next window of the epoch, and is
// kept in the model's buffers (so checkpoints carry it); the first window starts from zero.
func TestCarriedState(t *testing.T) {
	text := strings.Repeat("the quick brown fox jumps over the lazy dog. ", 40)
	m, tok := newLM(t, "lstm", text, "hidden=8", "embed=4", "block_size=6", "batch_size=2", "carry_state=true")
	lm := m.(*recurrentLM)
	if len(lm.carried) != 2 || !lm.carried[0].Buffer {
		t.Fatalf("carried states: %d", len(lm.carried))
	}
	ids, _ := tok.Encode(text)
	s, _ := datasets.NewTokenStream(ids, "fox", datasets.TokenStreamOptions{BatchSize: 2, Window: 6, Order: datasets.ContiguousRows, Seed: 1})
	ch := s.Epoch(context.Background(), 0, 0)
	first := <-ch
	if _, err := m.TrainStep([]*datasets.Batch{first}, rng.New(1)); err != nil {
		t.Fatal(err)
	}
	first.Release()
	after := slices.Clone(lm.carried[0].Data())
	if !slices.Equal(after, lm.trainProg.Floats(1)) || slices.Max(after) == 0 {
		t.Fatal("the final hidden state was not kept")
	}
	second := <-ch
	if _, err := m.TrainStep([]*datasets.Batch{second}, rng.New(1)); err != nil {
		t.Fatal(err)
	}
	second.Release()
	if !slices.Equal(lm.train.s0[0].Value().Data().([]float32), after) {
		t.Fatal("the second window did not start from the first one's final state")
	}
}
