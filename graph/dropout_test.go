package graph

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/internal/rng"
)

func TestDropout(t *testing.T) {
	d, other := NewDropout(0.25), NewDropout(0.25)
	g := G.NewGraph()
	var p *Program
	var x *G.Node
	if err := Build(func() {
		x = Input(g, "x", tensor.Float32, 100, 100)
		// Two applications of one layer, or two layers: each gets its own mask.
		a, b := d.Forward(x, true), other.Forward(x, true)
		var err error
		if p, err = Compile(a, b, d.Forward(x, false)); err != nil {
			t.Fatal(err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	fill(Buffer(x), 1)
	d.Fill(g, rng.New(1))
	other.Fill(g, rng.New(2))
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	a, b, id := p.Floats(0), p.Floats(1), p.Floats(2)
	zeros, same := 0, 0
	var sum float64
	for i := range a {
		if a[i] == 0 {
			zeros++
		} else if math.Abs(float64(a[i])-4.0/3) > 1e-6 {
			t.Fatalf("kept element scaled to %v, want 1/(1-p)", a[i])
		}
		if a[i] == b[i] {
			same++
		}
		sum += float64(a[i])
		if id[i] != 1 {
			t.Fatal("evaluation mode is not the identity")
		}
	}
	if f := float64(zeros) / 1e4; math.Abs(f-0.25) > 0.02 {
		t.Fatalf("dropped %.3f of the elements, want 0.25", f)
	}
	if mean := sum / 1e4; math.Abs(mean-1) > 0.03 {
		t.Fatalf("mean %.3f after dropout, want 1", mean)
	}
	if same > 7000 {
		t.Fatal("the two applications share a mask")
	}
}

func fill(dst []float32, v float32) {
	for i := range dst {
		dst[i] = v
	}
}
