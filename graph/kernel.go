package graph

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/cpu"
	"github.com/aigc-go/aigc/graph/exec"
)

// kernelOp is one of aigc's Ops. Its definition (type, shapes, gradient) is here; its
// arithmetic is each device's kernel for the kind of its spec, the executor's op.
type kernelOp interface {
	G.Op
	spec() exec.Op
}

// stateOp is a kernelOp that also reads and writes tensors outside the graph (batch
// normalisation's running statistics): they are its kernel's last inputs.
type stateOp interface {
	state() []*tensor.Dense
}

// doReference is the Do of every kernelOp on Gorgonia's TapeMachine: the op's reference
// CPU kernel, run once on the values.
func doReference(op kernelOp, prealloc G.Value, vs []G.Value) (G.Value, error) {
	ins := make([]exec.Operand, 0, len(vs))
	shapes := make([]G.DimSizer, len(vs))
	var dt tensor.Dtype
	for i, v := range vs {
		t, err := denseOrScalar(v)
		if err != nil {
			return nil, fmt.Errorf("%v input %d: %w", op, i, err)
		}
		if i == 0 {
			dt = t.Dtype()
		} else if t.Dtype() != dt {
			return nil, fmt.Errorf("%v: mixed dtypes %v and %v", op, dt, t.Dtype())
		}
		o, err := operandOf(t)
		if err != nil {
			return nil, fmt.Errorf("%v: %w", op, err)
		}
		ins = append(ins, o)
		shapes[i] = t.Shape()
	}
	if s, ok := op.(stateOp); ok {
		for _, t := range s.state() {
			if t.Dtype() != dt {
				return nil, fmt.Errorf("%v: input is %v but its state is %v", op, dt, t.Dtype())
			}
			o, _ := operandOf(t)
			ins = append(ins, o)
		}
	}
	shape, err := op.InferShape(shapes...)
	if err != nil {
		return nil, err
	}
	out := output(prealloc, dt, shape)
	o, err := operandOf(out)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", op, err)
	}
	spec := op.spec()
	k := cpu.Reference(spec.Kind(), o.DType)
	if k == nil {
		return nil, fmt.Errorf("%v: no reference kernel for %s", op, spec.Kind())
	}
	if err := exec.RunOnce(cpu.Device, k, spec, o, ins); err != nil {
		return nil, fmt.Errorf("%v: %w", op, err)
	}
	return out, nil
}

// operandOf wraps a tensor's memory for a kernel.
func operandOf(t *tensor.Dense) (exec.Operand, error) {
	dt, err := execType(t.Dtype())
	if err != nil {
		return exec.Operand{}, err
	}
	var host any
	if dt == exec.Float64 {
		host = t.Float64s()
	} else {
		host = t.Float32s()
	}
	buf, _ := cpu.Wrap(host)
	return exec.Operand{DType: dt, Shape: []int(t.Shape()), Buf: buf}, nil
}

// execType is the executor's name for a tensor dtype.
func execType(dt tensor.Dtype) (exec.DType, error) {
	switch dt {
	case tensor.Float32:
		return exec.Float32, nil
	case tensor.Float64:
		return exec.Float64, nil
	}
	return 0, fmt.Errorf("unsupported dtype %v", dt)
}

// denseOrScalar returns v as a contiguous dense tensor: views are materialised and
// Gorgonia's scalars become one-element tensors of shape ().
func denseOrScalar(v G.Value) (*tensor.Dense, error) {
	switch s := v.(type) {
	case *G.F32:
		return tensor.New(tensor.FromScalar(float32(*s))), nil
	case *G.F64:
		return tensor.New(tensor.FromScalar(float64(*s))), nil
	}
	return dense(v)
}
