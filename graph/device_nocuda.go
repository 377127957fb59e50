//go:build !aigc_cuda

package graph

import (
	"errors"

	"github.com/aigc-go/aigc/graph/cuda"
	"github.com/aigc-go/aigc/graph/exec"
	"github.com/aigc-go/aigc/kernels"
)

// CUDABuild reports whether this binary can run programs on a GPU. The CUDA backend lives
// in a separate binary (aigc-cuda, build tag aigc_cuda), because gorgonia.org/cu exits the
// process at start-up on machines without a GPU.
const CUDABuild = false

var errNoCUDA = errors.New("this build of aigc has no CUDA support (the aigc-cuda binary has it)")

func openGPU(int) (exec.Device, error) { return nil, errNoCUDA }

func setExact(exec.Device, bool) {}

// GPUInfos needs the CUDA driver, which only aigc-cuda links.
func GPUInfos() ([]kernels.GPUInfo, error) { return nil, errNoCUDA }

// CheckKernels needs a GPU, which only aigc-cuda drives.
func CheckKernels(float64) ([]cuda.CheckResult, error) { return nil, errNoCUDA }
