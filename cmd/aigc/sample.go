package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/internal/rng"
	"github.com/aigc-go/aigc/models"
)

// maxSamples bounds -n: 100,000 MNIST-sized images are 300 MB of float32.
const maxSamples = 100_000

type sampleOptions struct {
	*globalOptions
	Model  string
	From   checkpointFlags
	N      int
	Out    string
	Format string
}

func newSampleCmd(g *globalOptions) *cobra.Command {
	o := &sampleOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "sample MODEL",
		Short: "Generate samples from a trained model",
		Example: "  aigc sample vae -n 64                 # PNG grid, 8 per row\n" +
			"  aigc sample vae -n 1000 --format npy -o vae.npy --seed 3",
		Args: exactArgs(1, "one MODEL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Model = args[0]
			return runSample(o)
		},
	}
	o.From.bind(cmd)
	f := cmd.Flags()
	f.IntVarP(&o.N, "n", "n", 64, "number of samples")
	f.StringVarP(&o.Out, "out", "o", "", "output file (default RUN/samples.png or .npy)")
	f.StringVar(&o.Format, "format", "", "png (a grid) or npy (N×H×W float32); default from --out's extension, else png")
	return cmd
}

func runSample(o *sampleOptions) error {
	if o.N < 1 || o.N > maxSamples {
		return usageError{fmt.Errorf("-n must be between 1 and %d (got %d)", maxSamples, o.N)}
	}
	format, err := imageFormat(o.Format, o.Out)
	if err != nil {
		return err
	}
	l, err := o.From.open(o.Model)
	if err != nil {
		return err
	}
	defer l.Model.Close()
	if _, err := o.chooseDevice(); err != nil {
		return err
	}
	sampler, ok := l.Model.(models.ImageSampler)
	if !ok {
		return fmt.Errorf("model %s cannot sample images", l.Family.Name)
	}
	images, err := sampler.SampleImages(o.N, rng.New(o.Seed))
	if err != nil {
		return err
	}
	out := o.Out
	if out == "" {
		out = filepath.Join(runDir(o.From.Run, o.Model), "samples."+format)
	}
	if err := writeImages(out, format, images, o.N, l.Env); err != nil {
		return err
	}
	fmt.Fprintf(o.globalOptions.Out, "wrote %d samples to %s\n", o.N, out)
	return nil
}

// imageFormat resolves --format, defaulting to the extension of --out, then png.
func imageFormat(format, out string) (string, error) {
	if format == "" {
		format = strings.TrimPrefix(strings.ToLower(filepath.Ext(out)), ".")
		if format != "npy" {
			format = "png"
		}
	}
	if format != "png" && format != "npy" {
		return "", usageError{fmt.Errorf("--format %q: want png or npy", format)}
	}
	return format, nil
}

// writeImages writes n images atomically as a PNG grid (8 per row, 2 pixels of padding)
// or an N×H×W float32 .npy file.
func writeImages(path, format string, images []float32, n int, env models.Env) error {
	return checkpoints.WriteAtomic(path, func(w io.Writer) error {
		if format == "npy" {
			return datasets.WriteNPY(w, images, []int{n, env.ImageH, env.ImageW})
		}
		return datasets.WriteGrid(w, images, n, env.ImageH, env.ImageW, 8, 2)
	})
}
