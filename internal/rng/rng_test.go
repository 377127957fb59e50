package rng

import "testing"

func TestStateRoundTrip(t *testing.T) {
	g := New(42)
	for range 10 {
		g.NormFloat64()
	}
	state := g.State()
	want := []float64{g.NormFloat64(), g.Float64(), float64(g.IntN(1000))}

	h := New(7)
	if err := h.SetState(state); err != nil {
		t.Fatal(err)
	}
	got := []float64{h.NormFloat64(), h.Float64(), float64(h.IntN(1000))}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("draw %d after restore: got %v, want %v", i, got[i], want[i])
		}
	}
}

func TestSeedsAndStreamsDiffer(t *testing.T) {
	a, b, c := New(1), New(2), Stream(1, 1)
	x, y, z := a.Uint64(), b.Uint64(), c.Uint64()
	if x == y || x == z || y == z {
		t.Fatalf("generators coincide: %d %d %d", x, y, z)
	}
	if New(1).Uint64() != x {
		t.Fatal("same seed gave a different first draw")
	}
}

func TestSetStateRejectsGarbage(t *testing.T) {
	if err := New(1).SetState([]byte("nope")); err == nil {
		t.Fatal("garbage state accepted")
	}
}

// Sharded, each rank draws its part of what one generator draws for the whole batch, and
// every rank ends in the same state.
func TestShard(t *testing.T) {
	whole := New(3)
	all := make([]float32, 12)
	whole.FillNormal(all)
	for rank := range 3 {
		g := New(3)
		g.Shard(rank, 3)
		part := make([]float32, 4)
		g.FillNormal(part)
		for i, v := range part {
			if v != all[4*rank+i] {
				t.Fatalf("rank %d row %d: %v, want %v", rank, i, v, all[4*rank+i])
			}
		}
		if g.Uint64() != New(3).afterNormals(12).Uint64() {
			t.Fatalf("rank %d is not where the whole batch's generator is", rank)
		}
	}
}

// afterNormals draws n normals and returns the generator.
func (g *RNG) afterNormals(n int) *RNG {
	g.FillNormal(make([]float32, n))
	return g
}
