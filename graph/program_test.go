package graph

import (
	"slices"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/internal/rng"
)

// mlp builds a small two-layer network with a BCE loss, the shape of the VAE's decoder.
func mlp(t *testing.T) (*Params, *G.Node, *Gradients) {
	t.Helper()
	r := rng.New(1)
	ps := NewParams()
	fc1 := NewLinear(ps, "fc1", 6, 8, r)
	fc2 := NewLinear(ps, "fc2", 8, 6, r)
	g := G.NewGraph()
	var x *G.Node
	var gr *Gradients
	err := Build(func() {
		x = Input(g, "x", tensor.Float32, 4, 6)
		logits := fc2.Forward(ReLU(fc1.Forward(x)))
		loss := Mean(BCEWithLogits(logits, x))
		var err error
		if gr, err = CompileGradients(loss, ps.All()); err != nil {
			t.Fatal(err)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	data := Buffer(x)
	for i := range data {
		data[i] = float32(i%5) / 4
	}
	return ps, x, gr
}

// Running a program must not write into its parameters or inputs (register reuse in the
// machine could alias them), and gradients must not accumulate across runs.
func TestProgramRunsAreRepeatable(t *testing.T) {
	ps, _, gr := mlp(t)
	defer gr.Close()
	before := map[string][]float32{}
	for _, p := range ps.All() {
		before[p.Name] = slices.Clone(p.Data())
	}
	var losses []float64
	var grads [][][]float32
	for range 3 {
		if err := gr.Run(); err != nil {
			t.Fatal(err)
		}
		losses = append(losses, gr.Float(0))
		var gs [][]float32
		for _, g := range gr.Grads() {
			gs = append(gs, slices.Clone(g))
		}
		grads = append(grads, gs)
	}
	for _, p := range ps.All() {
		if !slices.Equal(before[p.Name], p.Data()) {
			t.Fatalf("running the program changed parameter %s", p.Name)
		}
	}
	for i := 1; i < 3; i++ {
		if losses[i] != losses[0] {
			t.Fatalf("loss changed between identical runs: %v", losses)
		}
		for j := range grads[0] {
			if !slices.Equal(grads[i][j], grads[0][j]) {
				t.Fatalf("gradient of %s changed between identical runs (accumulating?)", ps.All()[j].Name)
			}
		}
	}
	if losses[0] <= 0 {
		t.Fatalf("BCE loss should be positive, got %v", losses[0])
	}
}

func TestFeedChangesTheResult(t *testing.T) {
	_, x, gr := mlp(t)
	defer gr.Close()
	if err := gr.Run(); err != nil {
		t.Fatal(err)
	}
	first := gr.Float(0)
	data := make([]float32, 24)
	for i := range data {
		data[i] = 1
	}
	if err := Feed(x, data); err != nil {
		t.Fatal(err)
	}
	if err := gr.Run(); err != nil {
		t.Fatal(err)
	}
	if gr.Float(0) == first {
		t.Fatal("feeding a new batch did not change the loss")
	}
	if err := Feed(x, data[:3]); err == nil {
		t.Fatal("feeding the wrong number of values was accepted")
	}
}

func TestFLOPsCountsMatrixProducts(t *testing.T) {
	_, _, gr := mlp(t)
	defer gr.Close()
	// forward: 4·6·8 + 4·8·6 multiply-adds; backward: fc2 weight + input, fc1 weight (the
	// network input needs no gradient).
	fwd := int64(2 * (4*6*8 + 4*8*6))
	want := fwd + int64(2*(4*8*6+4*8*6)) + int64(2*4*6*8)
	if got := gr.FLOPs(); got != want {
		t.Fatalf("FLOPs = %d, want %d", got, want)
	}
}

// An output that other nodes also read must not be overwritten in place by them.
func TestOutputsReadByOtherNodesSurvive(t *testing.T) {
	g := G.NewGraph()
	var p *Program
	err := Build(func() {
		a := Input(g, "a", tensor.Float32, 2, 3)
		b := Input(g, "b", tensor.Float32, 2, 3)
		x, y := Sum(ReLU(a), 1), Sum(ReLU(b), 1)
		var err error
		if p, err = Compile(Add(x, y), x, y); err != nil {
			t.Fatal(err)
		}
		copy(Buffer(a), []float32{1, 1, 1, 1, 1, 1})
		copy(Buffer(b), []float32{2, 2, 2, 2, 2, 2})
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	for range 2 {
		if err := p.Run(); err != nil {
			t.Fatal(err)
		}
		if s, x, y := p.Floats(0), p.Floats(1), p.Floats(2); s[0] != 9 || x[0] != 3 || y[0] != 6 {
			t.Fatalf("sum %v, x %v, y %v: want 9, 3, 6", s, x, y)
		}
	}
}

// Scalar parameters (batch norm's num_batches_tracked) have data like any other.
func TestScalarParamData(t *testing.T) {
	ps := NewParams()
	p := ps.NewBuffer("n", []int{}...)
	Fill(p, 3)
	if d := p.Data(); len(d) != 1 || d[0] != 3 {
		t.Fatalf("scalar data %v", d)
	}
}
