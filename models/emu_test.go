//go:build aigc_emu

package models

import (
	"testing"

	"github.com/aigc-go/aigc/graph"
	"github.com/aigc-go/aigc/graph/cuda"
	"github.com/aigc-go/aigc/graph/exec"
)

// With the tag aigc_emu the CUDA device runs here on the host emulation of a GPU: the
// coverage test (TestEveryProgramHasKernels) compiles and runs every family's programs
// on it too, and every family's evaluation, training step and gradients match the CPU's.
var emulated = func() exec.Device {
	d, err := cuda.NewEmulated()
	if err != nil {
		panic(err)
	}
	exec.Register(d)
	return d
}()

// relative 1e-4: the GPU's kernels sum in other orders and use the float32 library
// functions where the CPU's reference kernels work in float64.
func TestCUDAMatchesCPU(t *testing.T) {
	for _, c := range familyCases() {
		t.Run(c.name, func(t *testing.T) {
			evalC, stepC, gradC := c.evaluateAndStep(t)
			prev := graph.UseDevice(emulated)
			defer graph.UseDevice(prev)
			evalG, stepG, gradG := c.evaluateAndStep(t)
			compareRuns(t, "cuda", "cpu", evalG, evalC, stepG, stepC, gradG, gradC, 1e-4)
		})
	}
}
