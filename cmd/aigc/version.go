package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

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

// buildVersion is aigc's version: what make stamped (-X main.version), else what the Go
// toolchain recorded in the binary: the commit a `go build` in a git checkout was made
// from, abbreviated as git describe does (with -dirty for uncommitted changes), or the
// module version of `go install ...@v1.2.3`.
func buildVersion(stamped string, info *debug.BuildInfo, ok bool) string {
	if stamped != "dev" || !ok {
		return stamped
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	switch {
	case rev != "":
		if len(rev) > 7 {
			rev = rev[:7]
		}
		if dirty {
			rev += "-dirty"
		}
		return rev
	case info.Main.Version != "" && info.Main.Version != "(devel)":
		return info.Main.Version
	}
	return stamped
}

func init() {
	info, ok := debug.ReadBuildInfo()
	version = buildVersion(version, info, ok)
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
