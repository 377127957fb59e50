package main

import (
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/graph"
)

type versionOptions struct {
	*globalOptions
	JSON bool
}

func newVersionCmd(g *globalOptions) *cobra.Command {
	o := &versionOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print aigc's version and how it was built",
		Args:  exactArgs(0, "no arguments"),
		RunE:  func(cmd *cobra.Command, args []string) error { return runVersion(o) },
	}
	cmd.Flags().BoolVar(&o.JSON, "json", false, "print as JSON")
	return cmd
}

func runVersion(o *versionOptions) error {
	info := map[string]any{
		"version": version, "go": runtime.Version(), "os": runtime.GOOS, "arch": runtime.GOARCH,
		"blas": graph.BLAS(), "backend": graph.BackendName(), "cuda": graph.CUDABuild,
		"checkpoint_format": checkpoints.FormatVersion,
	}
	if o.JSON {
		return printJSON(o.Out, info)
	}
	cuda := "not in this build"
	if graph.CUDABuild {
		cuda = "yes"
	}
	fmt.Fprintf(o.Out, "aigc %s (%s %s/%s; BLAS: %s; CUDA: %s; checkpoints: %s)\n", version, runtime.Version(),
		runtime.GOOS, runtime.GOARCH, graph.BLAS(), cuda, checkpoints.FormatVersion)
	return nil
}
