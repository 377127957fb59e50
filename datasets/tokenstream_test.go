package datasets

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

func iota32(n int) []int32 {
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(i)
	}
	return ids
}

// collect returns copies of the Tokens and Weights of an epoch's batches from start.
func collectTokens(t *testing.T, s *TokenStream, epoch, start int) (tokens [][]int32, weights [][]float32, valid []int) {
	t.Helper()
	for b := range s.Epoch(context.Background(), epoch, start) {
		tokens = append(tokens, append([]int32(nil), b.Tokens...))
		weights = append(weights, append([]float32(nil), b.Weights...))
		valid = append(valid, b.Valid)
		b.Release()
	}
	return
}

func TestRandomWindowsAreWindowsAndResumeExactly(t *testing.T) {
	ids := iota32(1000)
	s, err := NewTokenStream(ids, "seq", TokenStreamOptions{BatchSize: 4, Window: 8, Order: RandomWindows, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	if s.BatchesPerEpoch() != 1000/32 {
		t.Fatalf("%d batches per epoch", s.BatchesPerEpoch())
	}
	all, _, _ := collectTokens(t, s, 2, 0)
	for _, tok := range all {
		for r := range 4 {
			w := tok[r*9 : (r+1)*9]
			for j := 1; j < 9; j++ { // consecutive tokens of the corpus
				if w[j] != w[0]+int32(j) {
					t.Fatalf("row %v is not a window", w)
				}
			}
		}
	}
	rest, _, _ := collectTokens(t, s, 2, 5)
	if !reflect.DeepEqual(rest, all[5:]) {
		t.Fatal("resuming at batch 5 gives other windows")
	}
	other, _, _ := collectTokens(t, s, 3, 0)
	if reflect.DeepEqual(other, all) {
		t.Fatal("two epochs drew the same windows")
	}
}

func TestContiguousRowsContinueAcrossBatches(t *testing.T) {
	ids := iota32(1000)
	s, err := NewTokenStream(ids, "seq", TokenStreamOptions{BatchSize: 4, Window: 10, Order: ContiguousRows, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	all, _, _ := collectTokens(t, s, 0, 0)
	if len(all) != (250-10)/10 {
		t.Fatalf("%d batches", len(all))
	}
	for i := 1; i < len(all); i++ {
		for r := range 4 {
			prevLast := all[i-1][r*11+10] // the previous window's last target ...
			if first := all[i][r*11]; first != prevLast {
				t.Fatalf("batch %d row %d starts at %d, want %d", i, r, first, prevLast) // ... is this one's first input
			}
			if all[i][r*11+10] >= int32((r+1)*250) {
				t.Fatalf("row %d leaves its stripe", r)
			}
		}
	}
}

func TestSweepCoversEveryTargetOnce(t *testing.T) {
	ids := iota32(103) // 102 targets: 12 full windows of 8 and one of 6
	s, err := NewTokenStream(ids, "seq", TokenStreamOptions{BatchSize: 5, Window: 8, Order: Sweep})
	if err != nil {
		t.Fatal(err)
	}
	tokens, weights, valid := collectTokens(t, s, 0, 0)
	if len(tokens) != 3 || !reflect.DeepEqual(valid, []int{5, 5, 3}) {
		t.Fatalf("%d batches, valid %v", len(tokens), valid)
	}
	seen := map[int32]int{}
	for i := range tokens {
		for r := range 5 {
			for j := range 8 {
				if weights[i][r*8+j] == 1 {
					seen[tokens[i][r*9+j+1]]++
				}
			}
		}
	}
	for k := int32(1); k < 103; k++ {
		if seen[k] != 1 {
			t.Fatalf("target %d counted %d times", k, seen[k])
		}
	}
	if len(seen) != 102 || s.Targets() != 102 {
		t.Fatalf("%d targets weighted", len(seen))
	}
}

func TestTokenStreamTooShort(t *testing.T) {
	_, err := NewTokenStream(iota32(10), "tiny.txt (validation)", TokenStreamOptions{BatchSize: 2, Window: 64, Order: Sweep})
	if err == nil || !strings.HasPrefix(err.Error(), "tiny.txt (validation): 10 tokens are too few for one window of 65") {
		t.Fatalf("got %v", err)
	}
	_, err = NewTokenStream(iota32(100), "x", TokenStreamOptions{BatchSize: 8, Window: 10, Order: ContiguousRows})
	if err == nil {
		t.Fatal("8 stripes of 12 tokens accepted for windows of 10")
	}
}
