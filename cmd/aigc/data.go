package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aigc-go/aigc/datasets"
)

func newDataCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Manage data sets",
	}
	cmd.AddCommand(newDataDownloadCmd(g))
	return cmd
}

type downloadOptions struct {
	*globalOptions
	Name   string
	Cache  string
	Mirror string
}

func newDataDownloadCmd(g *globalOptions) *cobra.Command {
	o := &downloadOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "download NAME",
		Short: "Download an MNIST-format image set (" + strings.Join(datasets.KnownSets(), ", ") + ")",
		Long: "download fetches a set's four IDX files into the cache ($XDG_CACHE_HOME/aigc, else\n" +
			"~/.cache/aigc) and checks their SHA-256. Train on it with --data NAME.",
		Example: "  aigc data download fashion-mnist\n  aigc train vae --data fashion-mnist",
		Args:    exactArgs(1, "one NAME ("+strings.Join(datasets.KnownSets(), ", ")+")"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			return runDownload(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Cache, "cache", "", "cache folder (default $XDG_CACHE_HOME/aigc)")
	cmd.Flags().StringVar(&o.Mirror, "mirror", "", "base URL to fetch the files from instead of the canonical one")
	return cmd
}

func runDownload(ctx context.Context, o *downloadOptions) error {
	opts := datasets.DownloadOptions{Name: o.Name, CacheDir: o.Cache, BaseURL: o.Mirror}
	if !o.Quiet {
		opts.Log = o.Out
	}
	dir, err := datasets.Download(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "%s is in %s; train on it with --data %s\n", o.Name, dir, o.Name)
	return nil
}
