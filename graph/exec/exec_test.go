package exec_test

import (
	"strings"
	"testing"

	"github.com/aigc-go/aigc/graph/cpu"
	"github.com/aigc-go/aigc/graph/exec"
)

func compile(t *testing.T, g *exec.Graph) *exec.Program {
	t.Helper()
	p, err := exec.Compile(cpu.Device, g)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func run(t *testing.T, p *exec.Program) {
	t.Helper()
	if err := p.Run(); err != nil {
		t.Fatal(err)
	}
}

// aligned is the bytes of n float32s in the arena, whose buffers start 64 bytes apart.
func aligned(n int) int64 { return int64((n+15)/16*16) * 4 }

func ramp(n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(i)
	}
	return x
}

// A chain of element-wise ops runs in place: the arena holds one value however long the
// chain. Ops that cannot run in place reuse the memory of values no longer read.
func TestPlanReusesMemory(t *testing.T) {
	const n = 1000
	g := &exec.Graph{}
	v := g.Leaf(ramp(n), true, n)
	for range 10 {
		v = g.Apply(exec.Affine{Scale: 2, Shift: 1}, "", exec.Float32, []int{n}, v)
	}
	g.Outputs = []int{g.Apply(exec.Sum{}, "", exec.Float32, nil, v)}
	p := compile(t, g)
	if got := p.ArenaBytes(); got != aligned(n) {
		t.Fatalf("arena of %d bytes for a chain of in-place ops, want %d", got, aligned(n))
	}
	run(t, p)
	want := 0.0
	for i := range n {
		x := float64(i)
		for range 10 {
			x = 2*x + 1
		}
		want += x
	}
	if got := p.Output(0).([]float32)[0]; float64(got) != float64(float32(want)) {
		t.Fatalf("sum %v, want %v", got, want)
	}

	// Softmax rows cannot run in place: a chain of them alternates between two buffers.
	g = &exec.Graph{}
	v = g.Leaf(ramp(n), true, 10, 100)
	for range 6 {
		v = g.Apply(exec.Softmax{}, "", exec.Float32, []int{10, 100}, v)
	}
	g.Outputs = []int{g.Apply(exec.Sum{}, "", exec.Float32, nil, v)}
	p = compile(t, g)
	if got := p.ArenaBytes(); got != 2*aligned(n) {
		t.Fatalf("arena of %d bytes for a chain of 6 softmaxes, want %d (two buffers)", got, 2*aligned(n))
	}
	run(t, p)
	if got := p.Output(0).([]float32)[0]; got < 9.999 || got > 10.001 {
		t.Fatalf("ten rows of probabilities sum to %v", got)
	}
}

// An op runs in place only when nothing reads its input later, and never over a leaf or an
// output: y = 2x; z = y + 1; w = y + z must read the y that was computed.
func TestInPlaceRespectsReaders(t *testing.T) {
	x := []float32{1, 2, 3}
	g := &exec.Graph{}
	xv := g.Leaf(x, true, 3)
	y := g.Apply(exec.Affine{Scale: 2}, "y", exec.Float32, []int{3}, xv)
	z := g.Apply(exec.Affine{Scale: 1, Shift: 1}, "z", exec.Float32, []int{3}, y)
	w := g.Apply(exec.Add{}, "w", exec.Float32, []int{3}, y, z)
	u := g.Apply(exec.Affine{Scale: 10}, "u", exec.Float32, []int{3}, w) // over an output
	g.Outputs = []int{w, u}
	p := compile(t, g)
	for range 2 {
		run(t, p)
		w, u := p.Output(0).([]float32), p.Output(1).([]float32)
		for i, v := range x {
			if w[i] != 4*v+1 || u[i] != 10*(4*v+1) {
				t.Fatalf("w %v, u %v for x %v", w, u, x)
			}
		}
		if x[0] != 1 || x[2] != 3 {
			t.Fatalf("the input was overwritten: %v", x)
		}
	}
}

// A view of an intermediate that is an output keeps the intermediate's values.
func TestViewAsOutput(t *testing.T) {
	g := &exec.Graph{}
	x := g.Leaf(ramp(6), true, 6)
	y := g.Apply(exec.Affine{Scale: 3}, "", exec.Float32, []int{6}, x)
	r := g.Apply(exec.Reshape{}, "", exec.Float32, []int{2, 3}, y)
	g.Outputs = []int{r}
	p := compile(t, g)
	run(t, p)
	if got := p.Output(0).([]float32); got[5] != 15 || len(got) != 6 {
		t.Fatalf("reshaped output %v", got)
	}
}

type unknownOp struct{}

func (unknownOp) Kind() string { return "NoSuchKind" }

// A kind the device has no kernel for is an error of Compile naming it and its node.
func TestMissingKernel(t *testing.T) {
	g := &exec.Graph{}
	x := g.Leaf(ramp(3), true, 3)
	g.Outputs = []int{g.Apply(unknownOp{}, "the odd one", exec.Float32, []int{3}, x)}
	_, err := exec.Compile(cpu.Device, g)
	if err == nil || !strings.Contains(err.Error(), "NoSuchKind") || !strings.Contains(err.Error(), "the odd one") {
		t.Fatalf("compile error %v, want one naming NoSuchKind and its node", err)
	}
}

// A launch's error (bad data) names the instruction.
func TestRunErrorNamesTheInstruction(t *testing.T) {
	g := &exec.Graph{}
	table := g.Leaf(ramp(6), false, 3, 2)
	ids := []float32{0, 7}
	idv := g.Leaf(ids, true, 2)
	g.Outputs = []int{g.Apply(exec.Lookup{}, "embedding", exec.Float32, []int{2, 2}, table, idv)}
	p := compile(t, g)
	err := p.Run()
	if err == nil || !strings.HasPrefix(err.Error(), "embedding: ") || !strings.Contains(err.Error(), "id 7") {
		t.Fatalf("run error %v", err)
	}
}

// Running a compiled program allocates nothing, threads included.
func TestRunAllocatesNothing(t *testing.T) {
	const n = 1 << 18 // split across threads
	g := &exec.Graph{}
	a, b := g.Leaf(ramp(n), true, n), g.Leaf(ramp(n), true, n)
	s := g.Apply(exec.Add{}, "", exec.Float32, []int{n}, a, b)
	m := g.Apply(exec.Map{Fn: exec.Tanh}, "", exec.Float32, []int{n}, s)
	g.Outputs = []int{g.Apply(exec.Sum{}, "", exec.Float32, nil, g.Apply(exec.Mul{}, "", exec.Float32, []int{n}, m, a))}
	p := compile(t, g)
	run(t, p)
	if allocs := testing.AllocsPerRun(20, func() { run(t, p) }); allocs != 0 {
		t.Fatalf("%v allocations per run", allocs)
	}
}

// Nodes without an output update leaves in place.
func TestUpdateNodes(t *testing.T) {
	w, avg := []float32{1, 2}, []float32{5, 5}
	g := &exec.Graph{}
	g.Update(exec.Swap{}, "swap", g.Leaf(w, false, 2), g.Leaf(avg, false, 2))
	p := compile(t, g)
	run(t, p)
	if w[0] != 5 || avg[1] != 2 {
		t.Fatalf("after a swap: %v, %v", w, avg)
	}
}

// Element-wise chains run as one instruction, with the values they read elsewhere, and
// outputs, kept: the fused program computes what the unfused one does.
func TestFusion(t *testing.T) {
	const n = 10000 // more than one block
	build := func() *exec.Graph {
		g := &exec.Graph{}
		x, y := g.Leaf(ramp(n), true, n), g.Leaf(ramp(n), true, n)
		a := g.Apply(exec.Affine{Scale: 1e-4, Shift: -0.5}, "a", exec.Float32, []int{n}, x)
		b := g.Apply(exec.Map{Fn: exec.Tanh}, "b", exec.Float32, []int{n}, a)
		c := g.Apply(exec.Mul{}, "c", exec.Float32, []int{n}, b, y) // y: an input of the group
		d := g.Apply(exec.GELU{}, "d", exec.Float32, []int{n}, c)   // d is read twice below
		e := g.Apply(exec.Add{}, "e", exec.Float32, []int{n}, d, d)
		f := g.Apply(exec.MapGrad{Fn: exec.Sigmoid}, "f", exec.Float32, []int{n}, e, d)
		g.Outputs = []int{f, b} // b is an output too: the chain breaks there
		return g
	}
	results := map[bool][][]float32{}
	steps := map[bool]int{}
	for _, on := range []bool{false, true} {
		prev := exec.UseFusion(on)
		p := compile(t, build())
		exec.UseFusion(prev)
		run(t, p)
		results[on] = [][]float32{p.Output(0).([]float32), p.Output(1).([]float32)}
		steps[on] = p.Steps()
	}
	// a·b (b an output), c·d (d read twice), e·f: three instructions instead of six.
	if steps[false] != 6 || steps[true] != 3 {
		t.Fatalf("%d instructions unfused, %d fused; want 6 and 3", steps[false], steps[true])
	}
	for i := range results[false] {
		for j, v := range results[false][i] {
			if got := results[true][i][j]; got != v {
				t.Fatalf("output %d[%d]: fused %v, unfused %v", i, j, got, v)
			}
		}
	}
}

// An activation alone reading a product runs as the product's epilogue: one instruction,
// the same values, whether the product is split by rows or (few rows) by columns.
func TestEpilogue(t *testing.T) {
	for _, sz := range [][3]int{{64, 30, 40}, {16, 600, 128}} {
		m, n, k := sz[0], sz[1], sz[2]
		build := func() *exec.Graph {
			g := &exec.Graph{}
			x := g.Leaf(ramp(m*k), true, m, k)
			w := g.Leaf(ramp(n*k), false, n, k)
			b := g.Leaf(ramp(n), false, n)
			y := g.Apply(exec.MatMul{TransB: true, Bias: true}, "fc", exec.Float32, []int{m, n}, x, w, b)
			y = g.Apply(exec.Affine{Scale: -1e-7, Shift: 1}, "scale", exec.Float32, []int{m, n}, y)
			y = g.Apply(exec.Map{Fn: exec.Tanh}, "tanh", exec.Float32, []int{m, n}, y)
			g.Outputs = []int{y}
			return g
		}
		var out [2][]float32
		var steps [2]int
		for i, on := range []bool{false, true} {
			prev := exec.UseFusion(on)
			p := compile(t, build())
			exec.UseFusion(prev)
			run(t, p)
			out[i], steps[i] = p.Output(0).([]float32), p.Steps()
		}
		if steps[0] != 3 || steps[1] != 1 {
			t.Fatalf("%v: %d and %d instructions, want 3 and 1", sz, steps[0], steps[1])
		}
		for j := range out[0] {
			if out[0][j] != out[1][j] {
				t.Fatalf("%v [%d]: epilogue %v, separate %v", sz, j, out[1][j], out[0][j])
			}
		}
	}
}
