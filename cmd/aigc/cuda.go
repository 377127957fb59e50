package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/aigc-go/aigc/graph"
)

// The plain aigc is pure Go and OpenBLAS; GPUs are aigc-cuda's (gorgonia.org/cu ends any
// process that links it on a machine without a GPU). A request for a GPU (--device cuda,
// cuda:N or auto) hands the whole command line to aigc-cuda when this machine has an
// NVIDIA GPU, its driver and aigc-cuda; otherwise auto computes on the CPU after one
// line, and cuda stops with one line saying what is missing and how to get it.

// gpuHost is what a hand-off needs of this machine.
type gpuHost struct {
	GPUs   []string // the GPUs the kernel driver reports (/proc/driver/nvidia)
	Driver string   // the path of the driver's libcuda.so.1, or ""
	Binary string   // the path of aigc-cuda, or ""
}

// missing says in a few words why a GPU cannot be used, or "" when it can.
func (h gpuHost) missing() string {
	switch {
	case len(h.GPUs) == 0:
		return "no NVIDIA GPU found (/proc/driver/nvidia/gpus is empty)"
	case h.Driver == "":
		return fmt.Sprintf("found %s, but not the NVIDIA driver's libcuda.so.1 (install the driver, e.g. Debian's libcuda1)", h.GPUs[0])
	case h.Binary == "":
		return fmt.Sprintf("found %s, but not aigc-cuda beside this aigc or on PATH (build it with make cuda, or run the image of Dockerfile.cuda)", h.GPUs[0])
	}
	return ""
}

// probeHost and execCUDA are variables so that tests can stand in for a GPU machine.
var (
	probeHost = func() gpuHost { return gpuHost{GPUs: graph.GPUs(), Driver: findLibcuda(), Binary: findAigcCUDA()} }
	execCUDA  = func(path string, args []string) error {
		return syscall.Exec(path, args, append(os.Environ(), handedOff+"=1"))
	}
)

// handedOff marks the environment of aigc-cuda started by aigc, so that a binary named
// aigc-cuda without CUDA support cannot start itself again.
const handedOff = "AIGC_HANDED_OFF"

// handOff re-executes aigc-cuda with this command line when a GPU was asked for and can
// be used; it returns an error when --device cuda cannot be met, and leaves --device
// auto's note saying why the CPU computes.
func (g *globalOptions) handOff() error {
	kind, _, _ := graph.ParseDevice(g.Device)
	if graph.CUDABuild || kind == "cpu" {
		return nil
	}
	if os.Getenv(handedOff) != "" {
		g.cpuWhy = "aigc-cuda was started, but it is a build without CUDA support"
	} else {
		h := probeHost()
		if g.cpuWhy = h.missing(); g.cpuWhy == "" {
			if err := execCUDA(h.Binary, append([]string{h.Binary}, g.Args...)); err != nil {
				return fmt.Errorf("starting %s: %w", h.Binary, err)
			}
			return nil // a test's stand-in for exec returned
		}
	}
	if kind == "cuda" {
		return fmt.Errorf("--device %s: %s; --device cpu or auto computes on the CPU", g.Device, g.cpuWhy)
	}
	return nil
}

// findLibcuda looks for the driver's library where the dynamic loader would.
func findLibcuda() string {
	dirs := filepath.SplitList(os.Getenv("LD_LIBRARY_PATH"))
	dirs = append(dirs, "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib",
		"/usr/local/nvidia/lib64", "/usr/local/cuda/compat", "/usr/lib/wsl/lib")
	for _, d := range dirs {
		if p := filepath.Join(d, "libcuda.so.1"); fileExists(p) {
			return p
		}
	}
	if out, err := exec.Command("ldconfig", "-p").Output(); err == nil {
		for _, line := range strings.Split(string(out), "\n") {
			if _, p, ok := strings.Cut(line, "=>"); ok && strings.Contains(line, "libcuda.so.1") {
				return strings.TrimSpace(p)
			}
		}
	}
	return ""
}

// findAigcCUDA looks for aigc-cuda beside this executable, then on PATH.
func findAigcCUDA() string {
	if self, err := os.Executable(); err == nil {
		if p := filepath.Join(filepath.Dir(self), "aigc-cuda"); fileExists(p) {
			return p
		}
	}
	if p, err := exec.LookPath("aigc-cuda"); err == nil {
		return p
	}
	return ""
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}
