//go:build aigc_cuda

package graph

import (
	"errors"

	"github.com/aigc-go/aigc/graph/cpu"
	"github.com/aigc-go/aigc/graph/cuda"
	"github.com/aigc-go/aigc/graph/exec"
	"github.com/aigc-go/aigc/kernels"
)

// This file makes the aigc-cuda binary: the CUDA device (graph/cuda) over the CUDA driver
// API and cuBLAS (kernels/gpu.go).

// CUDABuild reports whether this binary can run programs on a GPU.
const CUDABuild = true

func openGPU(index int) (exec.Device, error) {
	d, err := cuda.Open(index)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// setExact makes the GPU's matrix products float32 throughout.
func setExact(d exec.Device, exact bool) {
	if c, ok := d.(*cuda.Device); ok {
		c.Exact = exact
	}
}

// GPUInfos describes the GPUs through the CUDA driver.
func GPUInfos() ([]kernels.GPUInfo, error) { return kernels.GPUs() }

// CheckKernels runs every kernel of the GPU the executor computes on against the CPU's
// op (graph/cuda's Check) to relative tolerance tol.
func CheckKernels(tol float64) ([]cuda.CheckResult, error) {
	if _, ok := device.(*cuda.Device); !ok {
		return nil, errors.New("no GPU chosen (--device cuda)")
	}
	return cuda.Check(device, cpu.Device, tol), nil
}
