package graph

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/aigc-go/aigc/graph/cpu"
)

// Device is where compiled programs run.
type Device string

const (
	CPU  Device = "cpu"
	CUDA Device = "cuda"
)

// CUDABuild reports whether this binary can run programs on a GPU. The CUDA backend lives
// in a separate binary (aigc-cuda, build tag aigc_cuda), because gorgonia.org/cu exits the
// process at start-up on machines without a GPU.
const CUDABuild = false

// ChooseDevice resolves a --device request (auto, cpu or cuda) for this binary. When the
// answer differs from what was asked for, note says so in one line for the user.
func ChooseDevice(want string) (d Device, note string, err error) {
	switch want {
	case "cpu":
		return CPU, "", nil
	case "cuda", "auto":
		if CUDABuild {
			return CUDA, "", nil
		}
		why := "this build of aigc has no CUDA support"
		if gpus := GPUs(); len(gpus) > 0 {
			why = fmt.Sprintf("found %s, but this build of aigc has no CUDA support", gpus[0])
		} else if want == "auto" {
			why = "no CUDA device found"
		}
		return CPU, fmt.Sprintf("aigc: --device %s: %s; running on the CPU", want, why), nil
	}
	return "", "", fmt.Errorf("--device %q: want auto, cpu or cuda", want)
}

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

// BLAS names the library that computes matrix products on the CPU.
func BLAS() string { return cpu.BLAS() }

// SetThreads sets how many cores aigc computes on.
func SetThreads(n int) { cpu.SetThreads(n) }
