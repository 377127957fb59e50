//go:build aigc_emu

package cuda

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/aigc-go/aigc/graph/cpu"
	"github.com/aigc-go/aigc/graph/exec"
)

// The tests run every kernel of the table in the host emulation of a GPU (kernels/emu.h)
// and compare it with the CPU device's op (check.go).

var emu = func() *Device {
	d, err := NewEmulated()
	if err != nil {
		panic(err)
	}
	return d
}()

func TestKernelsMatchCPU(t *testing.T) {
	res := Check(emu, cpu.Device, 1e-4)
	kinds := map[string]bool{}
	for _, r := range res {
		kinds[r.Kind] = true
		if r.Err != "" {
			t.Errorf("%s: %s", r.Name, r.Err)
		}
	}
	// Every kind of the table is checked (Reshape is a view: no kernel).
	for _, k := range Kinds() {
		if !kinds[k] {
			t.Errorf("no check of %s", k)
		}
	}
	if len(res) < 100 {
		t.Errorf("%d cases", len(res))
	}
}

// A check that cannot fail is no check: a kernel table with one wrong kernel fails it.
func TestCheckFindsAWrongKernel(t *testing.T) {
	right := table["Sub"]
	table["Sub"] = table["Add"]
	defer func() { table["Sub"] = right }()
	for _, r := range Check(emu, cpu.Device, 1e-4) {
		if r.Kind == "Sub" && r.Err == "" {
			t.Fatalf("%s passed with Add's kernel", r.Name)
		}
	}
}

// A label outside the classes is an error of the run, as on the CPU.
func TestBadLabel(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 7))
	x := randn(r, 3, 5)
	sr, err := runOp(cpu.Device, exec.XentStats{}, []int{3, 2}, []operand{x})
	if err != nil {
		t.Fatal(err)
	}
	st := sr.out
	g := &exec.Graph{}
	lx := g.Leaf(x.data, false, 3, 5)
	ll := g.Leaf([]float32{1, 5, 0}, false, 3)
	ls := g.Leaf(st, false, 3, 2)
	g.Outputs = []int{g.Apply(exec.Xent{}, "", exec.Float32, []int{3}, lx, ll, ls)}
	p, err := exec.Compile(emu, g)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.Run(); err == nil || !strings.Contains(err.Error(), "label outside the classes") {
		t.Fatalf("a label of 5 among 5 classes: %v", err)
	}
	if err := p.Run(); err == nil {
		t.Fatal("the second run passed")
	}
}
