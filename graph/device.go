package graph

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/aigc-go/aigc/graph/cpu"
	"github.com/aigc-go/aigc/graph/exec"
)

// Device is where compiled programs run.
type Device string

const (
	CPU  Device = "cpu"
	CUDA Device = "cuda"
)

// ParseDevice checks a --device request: auto, cpu, cuda or cuda:N (GPU N). It returns
// the kind asked for and the GPU's index.
func ParseDevice(want string) (kind string, index int, err error) {
	switch want {
	case "auto", "cpu", "cuda":
		return want, 0, nil
	}
	if n, ok := strings.CutPrefix(want, "cuda:"); ok {
		if i, err := strconv.Atoi(n); err == nil && i >= 0 {
			return "cuda", i, nil
		}
	}
	return "", 0, fmt.Errorf("--device %q: want auto, cpu, cuda or cuda:N", want)
}

// The GPU this process computes on, opened once.
var (
	gpuOnce sync.Once
	gpu     exec.Device
	gpuErr  error
)

// ChooseDevice resolves a --device request for this binary and makes the executor compile
// programs for the device chosen. When the answer differs from what was asked for, note
// says so in one line for the user. (The plain aigc hands requests for a GPU to aigc-cuda
// before this; see cmd/aigc.)
func ChooseDevice(want string) (d Device, note string, err error) {
	kind, index, err := ParseDevice(want)
	if err != nil {
		return "", "", err
	}
	if kind == "cpu" {
		UseDevice(cpu.Device)
		return CPU, "", nil
	}
	gpuOnce.Do(func() { gpu, gpuErr = openGPU(index) })
	if gpuErr == nil {
		UseDevice(gpu)
		return CUDA, "", nil
	}
	if kind == "cuda" {
		return "", "", fmt.Errorf("--device %s: %v", want, gpuErr)
	}
	UseDevice(cpu.Device)
	why := "no CUDA device found"
	if gpus := GPUs(); len(gpus) > 0 {
		why = fmt.Sprintf("found %s, but %v", gpus[0], gpuErr)
	}
	return CPU, fmt.Sprintf("aigc: --device %s: %s; running on the CPU", want, why), nil
}

// SetMatmulPrecision chooses the GPU's matrix-product arithmetic: "high" (the default)
// allows TF32 tensor cores, "highest" keeps float32 throughout (PyTorch's
// torch.set_float32_matmul_precision). The CPU always computes in float32.
func SetMatmulPrecision(p string) { setExact(device, p == "highest") }

// GPUs lists the NVIDIA GPUs the kernel driver reports, without needing CUDA.
func GPUs() []string {
	infos, _ := filepath.Glob("/proc/driver/nvidia/gpus/*/information")
	var out []string
	for _, p := range infos {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if name, ok := strings.CutPrefix(line, "Model:"); ok {
				out = append(out, strings.TrimSpace(name))
			}
		}
	}
	return out
}

// NvidiaDriver returns the kernel driver's version line, or "".
func NvidiaDriver() string {
	b, err := os.ReadFile("/proc/driver/nvidia/version")
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line)
}

// BLAS names the library that computes matrix products on the CPU.
func BLAS() string { return cpu.BLAS() }

// SetThreads sets how many cores aigc computes on.
func SetThreads(n int) { cpu.SetThreads(n) }
