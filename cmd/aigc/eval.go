package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/models"
)

type evalOptions struct {
	*globalOptions
	Model string
	From  checkpointFlags
	Data  string
	JSON  bool
}

func newEvalCmd(g *globalOptions) *cobra.Command {
	o := &evalOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "eval MODEL",
		Short: "Evaluate a trained model on the test split and draw its figures",
		Long: "eval reports the model's loss per example on the test split of its data. For the VAE it\n" +
			"also writes reconstructions.png (originals above their reconstructions) and\n" +
			"interpolations.png (decoded points between pairs of test images) next to the checkpoint.",
		Example: "  aigc eval vae\n  aigc eval vae --json --checkpoint runs/vae/latest.safetensors",
		Args:    exactArgs(1, "one MODEL"),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Model = args[0]
			return runEval(cmd.Context(), o)
		},
	}
	o.From.bind(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Data, "data", "", "image folder or downloaded set name (default: the embedded MNIST)")
	f.BoolVar(&o.JSON, "json", false, "print the results as JSON")
	return cmd
}

// evalReport is what eval prints.
type evalReport struct {
	Model      string             `json:"model"`
	Checkpoint string             `json:"checkpoint"`
	Step       int                `json:"step"`
	Data       string             `json:"data"`
	Examples   int                `json:"examples"`
	Metrics    map[string]float64 `json:"metrics"`
	Figures    []string           `json:"figures,omitempty"`
}

func runEval(ctx context.Context, o *evalOptions) error {
	l, err := o.From.open(o.Model)
	if err != nil {
		return err
	}
	defer l.Model.Close()
	data, err := loadImages(l.Family, l.Config, o.Data, o.Seed)
	if err != nil {
		return err
	}
	if data.Env != l.Env {
		return fmt.Errorf("%s holds %dx%d images, the model was trained on %dx%d", data.Set.Name,
			data.Env.ImageH, data.Env.ImageW, l.Env.ImageH, l.Env.ImageW)
	}
	if _, err := o.chooseDevice(); err != nil {
		return err
	}
	ms, err := l.Model.Evaluate(ctx, data.Test, o.Seed)
	if err != nil {
		return err
	}
	path := l.Path
	rep := evalReport{Model: l.Family.Name, Checkpoint: path, Step: l.Meta.Step, Data: data.Set.Name,
		Examples: data.Set.Test.N, Metrics: map[string]float64{}}
	for _, m := range ms {
		rep.Metrics[m.Name] = m.Value
	}
	if rec, ok := l.Model.(models.Reconstructor); ok {
		if rep.Figures, err = drawReconstructions(rec, data.Set.Test, l.Family.PixelRange, l.Env, filepath.Dir(path)); err != nil {
			return err
		}
	}
	if o.JSON {
		return printJSON(o.Out, rep)
	}
	fmt.Fprintf(o.Out, "%s at step %d on the %s test set (%d examples): %s per example\n",
		path, rep.Step, rep.Data, rep.Examples, ms)
	for _, f := range rep.Figures {
		fmt.Fprintf(o.Out, "wrote %s\n", f)
	}
	return nil
}

// drawReconstructions writes two figures: 32 test images, each above its reconstruction,
// and 8 rows of 8 codes interpolated between pairs of test images.
func drawReconstructions(rec models.Reconstructor, test *datasets.Images, pixelRange [2]float32, env models.Env, dir string) ([]string, error) {
	px := env.ImageH * env.ImageW
	lo, hi := pixelRange[0], pixelRange[1]
	scaled := func(i int) []float32 { // image i of the test set in the model's pixel range
		out := make([]float32, px)
		for j, p := range test.Image(i) {
			out[j] = lo + (hi-lo)*float32(p)/255
		}
		return out
	}
	const rows, cols = 4, 8
	n := min(rows*cols, test.N)
	var originals []float32
	for i := range n {
		originals = append(originals, scaled(i)...)
	}
	recons, err := rec.Reconstruct(originals, n)
	if err != nil {
		return nil, err
	}
	var grid []float32
	for r := 0; r*cols < n; r++ {
		k := min(cols, n-r*cols)
		for i := range k { // the originals shown in [0,1]
			for _, v := range originals[(r*cols+i)*px : (r*cols+i+1)*px] {
				grid = append(grid, (v-lo)/(hi-lo))
			}
		}
		grid = append(grid, recons[r*cols*px:(r*cols+k)*px]...)
	}
	reconPath := filepath.Join(dir, "reconstructions.png")
	if err := writeImages(reconPath, "png", grid, len(grid)/px, env); err != nil {
		return nil, err
	}

	var inter []float32
	for r := range 8 {
		a, b := scaled((2*r)%test.N), scaled((2*r+1)%test.N)
		line, err := rec.Interpolate(a, b, 8)
		if err != nil {
			return nil, err
		}
		inter = append(inter, line...)
	}
	interPath := filepath.Join(dir, "interpolations.png")
	if err := writeImages(interPath, "png", inter, len(inter)/px, env); err != nil {
		return nil, err
	}
	return []string{reconPath, interPath}, nil
}
