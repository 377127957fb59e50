package datasets

import (
	"context"
	"slices"
	"testing"
)

// firstBatch returns a copy of batch i of epoch e.
func batchOf(t *testing.T, s Stream, epoch, i int) *Batch {
	t.Helper()
	for b := range s.Epoch(context.Background(), epoch, i) {
		c := &Batch{Index: b.Index, Rows: b.Rows, Valid: b.Valid, X: slices.Clone(b.X), Tokens: slices.Clone(b.Tokens)}
		if b.Pairs != nil {
			c.Pairs = &PairBatch{Valid: b.Pairs.Valid, Source: slices.Clone(b.Pairs.Source), DecOut: slices.Clone(b.Pairs.DecOut)}
		}
		b.Release()
		return c
	}
	t.Fatalf("no batch %d", i)
	return nil
}

// The ranks' parts of a global batch, laid end to end, are the batch one process with the
// whole global batch sees, for every stream a model trains on; the last, partial global
// batch leaves later ranks empty parts.
func TestShardsMakeTheGlobalBatch(t *testing.T) {
	const ranks, rows = 3, 4
	im := &Images{N: 50, H: 2, W: 2, Pixels: seq(50*4, 0), Source: "fifty"}
	whole, err := NewImageStream(im, ImageStreamOptions{BatchSize: ranks * rows, Shuffle: true, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int32, 500)
	for i := range ids {
		ids[i] = int32(i % 97)
	}
	wholeTok, _ := NewTokenStream(ids, "tokens", TokenStreamOptions{BatchSize: ranks * rows, Window: 5, Order: RandomWindows, Seed: 9})
	var src, tgt [][]int32
	for i := range 40 {
		src, tgt = append(src, []int32{int32(3 + i%5)}), append(tgt, []int32{int32(3 + i%7), 4})
	}
	wholePairs, _ := NewPairStream(src, tgt, ranks*rows, 2, 4, true, 9, Shard{})
	if whole.BatchesPerEpoch() != 5 || wholePairs.BatchesPerEpoch() != 4 {
		t.Fatalf("%d and %d batches", whole.BatchesPerEpoch(), wholePairs.BatchesPerEpoch())
	}
	for _, i := range []int{1, 4} { // a full global batch, and the last (50 = 4·12 + 2)
		w, wt := batchOf(t, whole, 2, i), batchOf(t, wholeTok, 2, i)
		var x []float32
		var toks []int32
		var valid int
		var pairs []int32
		wp := batchOf(t, wholePairs, 2, min(i, 3))
		for r := range ranks {
			part, _ := NewImageStream(im, ImageStreamOptions{BatchSize: rows, Shuffle: true, Seed: 9, Shard: Shard{r, ranks}})
			if part.BatchesPerEpoch() != whole.BatchesPerEpoch() {
				t.Fatalf("rank %d: %d batches", r, part.BatchesPerEpoch())
			}
			b := batchOf(t, part, 2, i)
			x, valid = append(x, b.X...), valid+b.Valid
			tp, _ := NewTokenStream(ids, "tokens", TokenStreamOptions{BatchSize: rows, Window: 5, Order: RandomWindows, Seed: 9, Shard: Shard{r, ranks}})
			toks = append(toks, batchOf(t, tp, 2, i).Tokens...)
			pp, _ := NewPairStream(src, tgt, rows, 2, 4, true, 9, Shard{r, ranks})
			pairs = append(pairs, batchOf(t, pp, 2, min(i, 3)).Pairs.Source...)
		}
		if !slices.Equal(x, w.X) || valid != w.Valid {
			t.Fatalf("images, batch %d: the parts (%d valid) are not the whole (%d)", i, valid, w.Valid)
		}
		if !slices.Equal(toks, wt.Tokens) {
			t.Fatalf("windows, batch %d: the parts are not the whole", i)
		}
		if !slices.Equal(pairs, wp.Pairs.Source) {
			t.Fatalf("pairs, batch %d: the parts are not the whole", i)
		}
	}
	if _, err := NewTokenStream(ids, "tokens", TokenStreamOptions{BatchSize: rows, Window: 5, Order: ContiguousRows, Shard: Shard{0, 2}}); err == nil {
		t.Fatal("contiguous rows sharded")
	}
	if _, err := NewImageStream(im, ImageStreamOptions{BatchSize: 20, Shuffle: true, Shard: Shard{0, 3}}); err == nil {
		t.Fatal("a global batch of 60 on 50 images")
	}
}
