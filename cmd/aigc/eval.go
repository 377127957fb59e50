package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/internal/rng"
	"github.com/aigc-go/aigc/models"
)

type evalOptions struct {
	*globalOptions
	Model   string
	From    checkpointFlags
	Data    string
	Samples int    // generated images to judge; -1: the family's default
	Images  string // an .npy of images to judge instead of the model's samples
	JSON    bool
}

func newEvalCmd(g *globalOptions) *cobra.Command {
	o := &evalOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "eval MODEL",
		Short: "Evaluate a trained model on the test split and draw its figures",
		Long: "eval reports the model's loss per example on the test split of its data (VAE,\n" +
			"classifier) and judges generated images against the test images with aigc's embedded\n" +
			"MNIST classifier: the Fréchet distance of its features (FID), the Inception Score and\n" +
			"the class histogram (a GAN by default on 10,000 samples; the VAE with --samples N).\n" +
			"--images FILE.npy judges any N×28×28 images in [0,1], from PyTorch say. For the VAE it\n" +
			"also writes reconstructions.png (originals above their reconstructions) and\n" +
			"interpolations.png (decoded points between pairs of test images) next to the checkpoint.\n" +
			"A language model (rnn, lstm) reports its validation loss in nats per token, bits per\n" +
			"character and perplexity.",
		Example: "  aigc eval vae\n  aigc eval vae --samples 10000 --json\n  aigc eval gan\n" +
			"  aigc eval gan --images torch_samples.npy\n  aigc eval lstm --json",
		Args: oneModel,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Model = args[0]
			if err := checkFlagsApply(cmd, o.Model); err != nil {
				return err
			}
			return runEval(cmd.Context(), o)
		},
	}
	o.From.bind(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Data, "data", "", "image folder or downloaded set name (default: the embedded MNIST), or a text file")
	f.IntVar(&o.Samples, "samples", -1, "generated images to judge")
	defaultIs(cmd, "samples", "10000 for a GAN, none for the VAE")
	f.StringVar(&o.Images, "images", "", "judge the images of this .npy file (N×H×W, values in [0,1]) instead")
	f.BoolVar(&o.JSON, "json", false, "print the results as JSON")
	onlyFor(cmd, []models.DataKind{models.Images}, "samples", "images")
	return cmd
}

// evalReport is what eval --json prints, the same for every family: the metrics under the
// names metrics.jsonl gives them (loss, bce, kl; fid, is; loss, ppl, bpc; exact,
// token_acc), and for judged images their number and the judge's class histogram.
type evalReport struct {
	Model      string             `json:"model,omitempty"`
	Checkpoint string             `json:"checkpoint,omitempty"`
	Images     string             `json:"images,omitempty"` // --images: the file judged
	Step       int                `json:"step"`
	Data       string             `json:"data"`
	Examples   int                `json:"examples"` // test images, validation tokens or test pairs
	Metrics    map[string]float64 `json:"metrics"`
	Samples    int                `json:"samples,omitempty"` // generated images judged
	Histogram  []float64          `json:"class_histogram,omitempty"`
	Figures    []string           `json:"figures,omitempty"`
}

// add records metrics under their names.
func (r *evalReport) add(ms models.Metrics) {
	if r.Metrics == nil {
		r.Metrics = map[string]float64{}
	}
	for _, m := range ms {
		r.Metrics[m.Name] = m.Value
	}
}

// judged records the judge's verdict on generated images.
func (r *evalReport) judged(q *models.Quality) {
	r.add(models.Metrics{{Name: "fid", Value: q.FID}, {Name: "is", Value: q.IS}, {Name: "is_std", Value: q.ISStd}})
	r.Samples, r.Histogram = q.Samples, q.Histogram
}

func runEval(ctx context.Context, o *evalOptions) error {
	if o.Samples < -1 || o.Samples > maxSamples {
		return usageError{fmt.Errorf("--samples must be between 0 and %d (got %d)", maxSamples, o.Samples)}
	}
	if o.Images != "" {
		return judgeImages(o)
	}
	l, err := o.From.open(o.Model)
	if err != nil {
		return err
	}
	defer l.Model.Close()
	switch l.Family.Data {
	case models.Text:
		return evalText(ctx, o, l)
	case models.Pairs:
		return evalPairs(ctx, o, l)
	}
	data, err := loadImages(l.Family, l.Config, recordedData(o.Data, l), o.Seed, datasets.Shard{})
	if err != nil {
		return recordedDataError(err, o.Data, l)
	}
	if data.Env != l.Env {
		return fmt.Errorf("%s holds %dx%d images, the model was trained on %dx%d", data.Set.Name,
			data.Env.ImageH, data.Env.ImageW, l.Env.ImageH, l.Env.ImageW)
	}
	if _, err := o.chooseDevice(); err != nil {
		return err
	}
	rep := evalReport{Model: l.Family.Name, Checkpoint: l.Path, Step: l.Meta.Step, Data: data.Set.Name,
		Examples: data.Set.Test.N}
	samples := o.Samples
	if samples < 0 {
		samples = l.Family.JudgeSamples
	}
	var ms models.Metrics
	var quality *models.Quality
	if l.Family.JudgeSamples == 0 { // a GAN's held-out evaluation is the quality below
		if ms, err = l.Model.Evaluate(ctx, o.watchEvaluation(data.Test), o.Seed); err != nil {
			return err
		}
		rep.add(ms)
	}
	if samples > 0 {
		sampler, ok := l.Model.(models.ImageSampler)
		if !ok {
			return fmt.Errorf("model %s cannot generate images to judge", l.Family.Name)
		}
		images, err := sampler.SampleImages(samples, rng.New(o.Seed))
		if err != nil {
			return err
		}
		if quality, err = judge(images, samples, data.Set.Test); err != nil {
			return err
		}
		rep.judged(quality)
	}
	if rec, ok := l.Model.(models.Reconstructor); ok {
		if rep.Figures, err = drawReconstructions(rec, data.Set.Test, l.Family.PixelRange, l.Env, filepath.Dir(l.Path)); err != nil {
			return err
		}
	}
	if o.JSON {
		return printJSON(o.Out, rep)
	}
	if ms != nil {
		fmt.Fprintf(o.Out, "%s at step %d on the %s test set (%d examples): %s per example\n",
			l.Path, rep.Step, rep.Data, rep.Examples, ms)
	} else {
		fmt.Fprintf(o.Out, "%s at step %d\n", l.Path, rep.Step)
	}
	if quality != nil {
		printQuality(o, quality, rep.Data)
	}
	for _, f := range rep.Figures {
		fmt.Fprintf(o.Out, "wrote %s\n", f)
	}
	return nil
}

// judgeImages scores the images of an .npy file against the test split of --data.
func judgeImages(o *evalOptions) error {
	set, err := datasets.LoadImages(o.Data)
	if err != nil {
		return err
	}
	images, n, err := readImagesNPY(o.Images, set.Test.H, set.Test.W)
	if err != nil {
		return err
	}
	q, err := judge(images, n, set.Test)
	if err != nil {
		return err
	}
	if o.JSON {
		rep := evalReport{Images: o.Images, Data: set.Name, Examples: set.Test.N}
		rep.judged(q)
		return printJSON(o.Out, rep)
	}
	fmt.Fprintf(o.Out, "%s\n", o.Images)
	printQuality(o, q, set.Name)
	return nil
}

// readImagesNPY reads N×H×W (or N×H·W) images with values in [0,1] from an .npy file.
func readImagesNPY(path string, h, w int) ([]float32, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("cannot read %s: %w", path, err)
	}
	defer f.Close()
	data, shape, err := datasets.ReadNPY(f, path)
	if err != nil {
		return nil, 0, err
	}
	n := 0
	switch {
	case len(shape) == 3 && shape[1] == h && shape[2] == w, len(shape) == 2 && shape[1] == h*w:
		n = shape[0]
	case len(shape) == 4 && shape[1] == 1 && shape[2] == h && shape[3] == w:
		n = shape[0]
	default:
		return nil, 0, fmt.Errorf("%s: shape %v; want N×%d×%d images", path, shape, h, w)
	}
	if n < 2 || n > maxSamples {
		return nil, 0, fmt.Errorf("%s: %d images; want 2 to %d", path, n, maxSamples)
	}
	lo, hi := slices.Min(data), slices.Max(data)
	if lo < 0 || hi > 1 || math.IsNaN(float64(lo+hi)) {
		return nil, 0, fmt.Errorf("%s: values from %g to %g; want pixels in [0,1] (map [-1,1] images with (x+1)/2)", path, lo, hi)
	}
	return data, n, nil
}

// judge scores n images in [0,1] against an image set with the embedded classifier.
func judge(images []float32, n int, ref *datasets.Images) (*models.Quality, error) {
	s, err := models.NewScorerFor(ref)
	if err != nil {
		return nil, err
	}
	q, err := s.Score(images, n)
	return &q, err
}

func printQuality(o *evalOptions, q *models.Quality, data string) {
	fmt.Fprintf(o.Out, "FID %.2f  IS %.2f ± %.2f  on %d samples, against the %s test set\nclasses:", q.FID, q.IS, q.ISStd, q.Samples, data)
	for c, f := range q.Histogram {
		fmt.Fprintf(o.Out, "  %d %.1f%%", c, 100*f)
	}
	fmt.Fprintln(o.Out)
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

// evalPairs scores a sequence-to-sequence model on its test pairs.
func evalPairs(ctx context.Context, o *evalOptions, l *models.Loaded) error {
	// A generated task is generated again from the run's seed: its test pairs are the
	// ones the run held out.
	seed := o.Seed
	if s, err := strconv.ParseUint(l.Meta.Extra["seed"], 10, 64); err == nil && o.Data == "" {
		seed = s
	}
	d, err := loadPairs(l.Family, l.Config, recordedData(o.Data, l), seed, &l.Env, datasets.Shard{})
	if err != nil {
		return recordedDataError(err, o.Data, l)
	}
	if _, err := o.chooseDevice(); err != nil {
		return err
	}
	ms, err := l.Model.Evaluate(ctx, o.watchEvaluation(d.Test), o.Seed)
	if err != nil {
		return err
	}
	rep := evalReport{Model: l.Family.Name, Checkpoint: l.Path, Step: l.Meta.Step, Data: d.Set.Name,
		Examples: len(d.Set.Test)}
	rep.add(ms)
	if o.JSON {
		return printJSON(o.Out, rep)
	}
	exact, _ := ms.Get("exact")
	acc, _ := ms.Get("token_acc")
	loss, _ := ms.Get("loss")
	fmt.Fprintf(o.Out, "%s at step %d on %d test pairs of %s (greedy decoding):\n"+
		"  exact match %.2f%%, token accuracy %.2f%%, loss %.4f per target token\n",
		l.Path, rep.Step, rep.Examples, rep.Data, 100*exact, 100*acc, loss)
	return nil
}
