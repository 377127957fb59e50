package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aigc-go/aigc/graph"
)

type devicesOptions struct {
	*globalOptions
	JSON bool
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
	return cmd
}

type deviceInfo struct {
	Device  string `json:"device"`
	Name    string `json:"name"`
	Usable  bool   `json:"usable"`
	Details string `json:"details"`
}

func runDevices(o *devicesOptions) error {
	devs := []deviceInfo{{
		Device: "cpu", Name: cpuName(), Usable: true,
		Details: fmt.Sprintf("%d cores, %d threads in use, BLAS: %s", runtime.NumCPU(), runtime.GOMAXPROCS(0), graph.BLAS()),
	}}
	for _, gpu := range graph.GPUs() {
		d := deviceInfo{Device: "cuda", Name: gpu, Usable: graph.CUDABuild}
		if !graph.CUDABuild {
			d.Details = "this build has no CUDA support (the aigc-cuda binary adds it)"
		}
		devs = append(devs, d)
	}
	if o.JSON {
		return printJSON(o.Out, devs)
	}
	for _, d := range devs {
		fmt.Fprintf(o.Out, "%-5s %s: %s\n", d.Device, d.Name, d.Details)
	}
	if len(devs) == 1 {
		fmt.Fprintln(o.Out, "cuda  none found")
	}
	return nil
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
