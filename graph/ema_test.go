package graph

import (
	"fmt"
	"math"
	"slices"
	"testing"
)

func TestEMAUpdateAndSwap(t *testing.T) {
	ps := NewParams()
	p := ps.New("w", 3)
	copy(p.Data(), []float32{1, 2, 3})
	e := NewEMA(ps.All(), 0.5)

	// Update 1 warms up at (1+1)/(10+1); by update 10 the rate is capped at Decay.
	copy(p.Data(), []float32{3, 2, 1})
	e.Update()
	d := 2.0 / 11
	want := []float64{d*1 + (1-d)*3, 2, d*3 + (1-d)*1}
	for i, a := range e.avg[0] {
		if math.Abs(float64(a)-want[i]) > 1e-6 {
			t.Fatalf("after one update avg = %v, want %v", e.avg[0], want)
		}
	}
	for range 20 {
		e.Update()
	}
	if r := e.rate(e.Updates); r != 0.5 {
		t.Fatalf("rate after %d updates = %v, want the decay 0.5", e.Updates, r)
	}
	// The average converges to the (now constant) weights.
	for i, a := range e.avg[0] {
		if math.Abs(float64(a-p.Data()[i])) > 1e-4 {
			t.Fatalf("avg %v has not converged to %v", e.avg[0], p.Data())
		}
	}

	copy(e.avg[0], []float32{7, 8, 9})
	e.Swap()
	if !slices.Equal(p.Data(), []float32{7, 8, 9}) || !slices.Equal(e.avg[0], []float32{3, 2, 1}) {
		t.Fatalf("swap: weights %v, averages %v", p.Data(), e.avg[0])
	}
	e.Swap()
	if !slices.Equal(p.Data(), []float32{3, 2, 1}) {
		t.Fatalf("swapping twice changed the weights to %v", p.Data())
	}
}

func TestEMAStateRoundTrip(t *testing.T) {
	ps := NewParams()
	ps.New("a.weight", 2, 2)
	ps.New("a.bias", 2)
	e := NewEMA(ps.All(), 0.9)
	for i, ts := range e.State() {
		for j := range ts.Data {
			ts.Data[j] = float32(10*i + j)
		}
	}
	e.Updates = 42
	saved := map[string][]float32{}
	for _, ts := range e.State() {
		saved[ts.Name] = slices.Clone(ts.Data)
	}

	f := NewEMA(ps.All(), 0.9)
	take := func(name string, shape []int) ([]float32, error) {
		d, ok := saved[name]
		if !ok {
			return nil, fmt.Errorf("missing %s", name)
		}
		return d, nil
	}
	if err := f.LoadState(take, e.Updates); err != nil {
		t.Fatal(err)
	}
	if f.Updates != 42 || !slices.Equal(f.avg[0], e.avg[0]) || !slices.Equal(f.avg[1], e.avg[1]) {
		t.Fatalf("loaded %d updates, averages %v, want %d, %v", f.Updates, f.avg, e.Updates, e.avg)
	}
	if _, ok := saved["ema.a.weight"]; !ok {
		t.Fatalf("state names %v, want ema.<param>", saved)
	}
	if err := f.LoadState(take, -1); err == nil {
		t.Fatal("negative update count accepted")
	}
}
