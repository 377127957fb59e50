package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aigc-go/aigc/dist"
	"github.com/aigc-go/aigc/graph"
)

type devicesOptions struct {
	*globalOptions
	JSON  bool
	Check bool
}

func newDevicesCmd(g *globalOptions) *cobra.Command {
	o := &devicesOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "devices",
		Short: "List the devices aigc can compute on",
		Args:  exactArgs(0, "no arguments"),
		RunE:  func(cmd *cobra.Command, args []string) error { return runDevices(o) },
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print the devices as JSON")
	cmd.Flags().BoolVar(&o.Check, "check", false, "run every GPU kernel against the CPU's op on random inputs (aigc-cuda)")
	return cmd
}

type deviceInfo struct {
	Device  string `json:"device"`
	Name    string `json:"name"`
	Usable  bool   `json:"usable"`
	Details string `json:"details"`
}

func runDevices(o *devicesOptions) error {
	if o.Check {
		return checkKernels(o)
	}
	devs := []deviceInfo{{
		Device: "cpu", Name: cpuName(), Usable: true,
		Details: fmt.Sprintf("%d cores, %d threads in use, BLAS: %s", runtime.NumCPU(), runtime.GOMAXPROCS(0), graph.BLAS()),
	}}
	gpus, why := gpuDevices(o.globalOptions)
	devs = append(devs, gpus...)
	if c := dist.World(); c.Size() > 1 { // under mpirun: this process's place in the job
		host, _ := os.Hostname()
		devs = append(devs, deviceInfo{Device: "mpi", Name: "Open MPI", Usable: true,
			Details: fmt.Sprintf("rank %d of %d, local rank %d of %d on %s", c.Rank(), c.Size(), c.LocalRank(), c.LocalSize(), host)})
	}
	if o.JSON {
		return printJSON(o.Out, devs)
	}
	for _, d := range devs {
		fmt.Fprintf(o.Out, "%-6s %s: %s\n", d.Device, d.Name, d.Details)
	}
	if why != "" {
		fmt.Fprintf(o.Out, "cuda   none usable: %s\n", why)
	}
	return nil
}

// gpuDevices lists the GPUs: through the CUDA driver in aigc-cuda (name, memory, compute
// capability, driver), else as the kernel driver reports them, with why none is usable.
func gpuDevices(g *globalOptions) ([]deviceInfo, string) {
	if graph.CUDABuild {
		infos, err := graph.GPUInfos()
		if err != nil {
			return nil, err.Error()
		}
		var out []deviceInfo
		for _, i := range infos {
			details := fmt.Sprintf("%.1f GiB, compute capability %s, driver CUDA %s", float64(i.MemoryBytes)/(1<<30), i.Capability, i.Driver)
			if i.CUBLAS != "" {
				details += ", " + i.CUBLAS
			}
			out = append(out, deviceInfo{Device: fmt.Sprintf("cuda:%d", i.Index), Name: i.Name, Usable: true, Details: details})
		}
		if len(out) == 0 {
			return nil, "the CUDA driver reports no GPU"
		}
		return out, ""
	}
	var out []deviceInfo
	why := g.cpuWhy
	if why == "" {
		why = probeHost().missing()
	}
	for i, name := range graph.GPUs() {
		details := "needs aigc-cuda"
		if v := graph.NvidiaDriver(); v != "" {
			details += "; " + v
		}
		out = append(out, deviceInfo{Device: fmt.Sprintf("cuda:%d", i), Name: name, Details: details})
	}
	return out, why
}

// cpuName reads the processor's model name on Linux.
func cpuName() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v)
			}
		}
	}
	return runtime.GOARCH + " CPU"
}

// checkKernels compares every GPU kernel with the CPU's op, one line per case (or JSON),
// and fails when one is beyond float32 relative error 1e-4.
func checkKernels(o *devicesOptions) error {
	if _, err := o.chooseDevice(); err != nil {
		return err
	}
	res, err := graph.CheckKernels(1e-4)
	if err != nil {
		return fmt.Errorf("devices --check: %w", err)
	}
	failed := 0
	for _, r := range res {
		if r.Err != "" {
			failed++
		}
	}
	if o.JSON {
		if err := printJSON(o.Out, res); err != nil {
			return err
		}
	} else {
		worst := 0.0
		for _, r := range res {
			worst = max(worst, r.MaxErr)
			status := "ok"
			if r.Err != "" {
				status = "FAIL " + r.Err
			}
			fmt.Fprintf(o.Out, "%-9.2e %s  %s\n", r.MaxErr, r.Name, status)
		}
		fmt.Fprintf(o.Out, "%d kernel cases, %d beyond relative error 1e-4, the largest error %.2e\n", len(res), failed, worst)
	}
	if failed > 0 {
		return fmt.Errorf("devices --check: %d of %d kernel cases differ from the CPU", failed, len(res))
	}
	return nil
}
