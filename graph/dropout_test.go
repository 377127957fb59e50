package graph

import (
	"math"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/exec"
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

// Dropout's gradient is the forward's mask again (regenerated from the same seed): the
// finite differences, taken with the seed held, agree.
func TestGradDropout(t *testing.T) {
	ps := params64()
	x := randParam(ps, "x", 1, 7, 9, 11)
	d := NewDropout(0.3)
	gradCheck(t, ps, func(g *G.ExprGraph) *G.Node {
		y := d.Forward(x.Node(g), true)
		d.Fill(g, rng.New(5))
		return y
	})
}

// The mask is the counter-based generator's: the same seed gives the same mask, and
// element i's fate is exec.DropoutBits(seed, i) against the threshold.
func TestDropoutMaskIsCounterBased(t *testing.T) {
	d := NewDropout(0.5)
	g := G.NewGraph()
	var p *Program
	var x *G.Node
	if err := Build(func() {
		x = Input(g, "x", tensor.Float32, 1000)
		var err error
		if p, err = Compile(d.Forward(x, true)); err != nil {
			t.Fatal(err)
		}
	}); err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	fill(Buffer(x), 1)
	d.Fill(g, rng.New(3))
	seed := *d.seeds[g][0]
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
	for i, v := range p.Floats(0) {
		keep := uint64(exec.DropoutBits(seed, i)) >= exec.DropoutThreshold(0.5)
		if keep != (v == 2) || (!keep && v != 0) {
			t.Fatalf("element %d: %v with bits %d", i, v, exec.DropoutBits(seed, i))
		}
	}
}
