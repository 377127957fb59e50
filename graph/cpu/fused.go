package cpu

import (
	"fmt"

	"github.com/aigc-go/aigc/graph/exec"
)

// Fused element-wise chains (exec.Fused): the inputs are worked through in blocks small
// enough for the cache, each step of the chain applied to the block before the next block
// is read.

func init() {
	register("Fused", fusedKernel(elemStep[float32]), fusedKernel(elemStep[float64]))
}

// fusedBlock is the elements of one block: each step's temporary is one block.
const fusedBlock = 4096

// stepFunc applies one element-wise op to a block: dst from the args' blocks.
type stepFunc[T float] func(dst []T, args [][]T)

// elemStep is the reference arithmetic of an element-wise op on a block.
func elemStep[T float](op exec.Op) (stepFunc[T], error) {
	switch op := op.(type) {
	case exec.Add:
		return func(d []T, a [][]T) { AddRange(d, a[0], a[1]) }, nil
	case exec.Sub:
		return func(d []T, a [][]T) {
			for i := range d {
				d[i] = a[0][i] - a[1][i]
			}
		}, nil
	case exec.Mul:
		return func(d []T, a [][]T) {
			for i := range d {
				d[i] = a[0][i] * a[1][i]
			}
		}, nil
	case exec.Affine:
		s, c := T(op.Scale), T(op.Shift)
		return func(d []T, a [][]T) {
			for i := range d {
				d[i] = s*a[0][i] + c
			}
		}, nil
	case exec.Map:
		f := MapFunc(op.Fn, op.Alpha)
		return func(d []T, a [][]T) {
			for i, v := range a[0][:len(d)] {
				d[i] = T(f(float64(v)))
			}
		}, nil
	case exec.MapGrad:
		f := mapDeriv(op.Fn, op.Alpha)
		return func(d []T, a [][]T) {
			for i, v := range a[0][:len(d)] {
				d[i] = a[1][i] * T(f(float64(v)))
			}
		}, nil
	case exec.GELU:
		return func(d []T, a [][]T) { geluRange(false, d, a[0], nil) }, nil
	case exec.GELUGrad:
		return func(d []T, a [][]T) { geluRange(true, d, a[0], a[1]) }, nil
	}
	return nil, fmt.Errorf("no fused form of %s", op.Kind())
}

// fusedKernel runs a Fused group with the steps that step makes.
func fusedKernel[T float](step func(exec.Op) (stepFunc[T], error)) exec.Kernel {
	return func(p *exec.Prep) (exec.Launch, error) {
		f := p.Op.(exec.Fused)
		out := data[T](p.Out)
		ins := make([][]T, len(p.In))
		for i, o := range p.In {
			ins[i] = data[T](o)
		}
		steps := make([]stepFunc[T], len(f.Steps))
		for s, st := range f.Steps {
			var err error
			if steps[s], err = step(st.Op); err != nil {
				return nil, err
			}
		}
		n := len(out)
		blocks := (n + fusedBlock - 1) / fusedBlock
		threads := Threads()
		tmpS := p.Scratch(dtypeOf[T](), threads*len(f.Steps)*fusedBlock)
		// Per thread: each step's argument blocks, reused.
		args := make([][][][]T, threads)
		for t := range args {
			args[t] = make([][][]T, len(f.Steps))
			for s, st := range f.Steps {
				args[t][s] = make([][]T, len(st.Args))
			}
		}
		var tmp []T
		body := func(lo, hi int) {
			t := ChunkIndex(blocks, 1, lo)
			mine := tmp[t*len(f.Steps)*fusedBlock : (t+1)*len(f.Steps)*fusedBlock]
			for bl := lo; bl < hi; bl++ {
				off := bl * fusedBlock
				m := min(fusedBlock, n-off)
				for s, st := range f.Steps {
					a := args[t][s]
					for i, arg := range st.Args {
						if arg < len(ins) {
							a[i] = ins[arg][off : off+m]
						} else {
							k := arg - len(ins)
							a[i] = mine[k*fusedBlock : k*fusedBlock+m]
						}
					}
					dst := mine[s*fusedBlock : s*fusedBlock+m]
					if s == len(steps)-1 {
						dst = out[off : off+m]
					}
					steps[s](dst, a)
				}
			}
		}
		return func() error {
			tmp = scratch[T](tmpS)
			For(blocks, 1, body)
			return nil
		}, nil
	}
}
