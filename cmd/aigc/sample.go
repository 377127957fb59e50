package main

import (
	"cmp"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/internal/rng"
	"github.com/aigc-go/aigc/models"
	"github.com/aigc-go/aigc/train"
)

// maxSamples bounds -n: 100,000 MNIST-sized images are 300 MB of float32.
const maxSamples = 100_000

// maxTokens bounds -n for a language model.
const maxTokens = 10_000_000

type sampleOptions struct {
	*globalOptions
	Model  string
	From   checkpointFlags
	N      int // -1: 64 images, or 500 tokens
	Out    string
	Format string
	Prompt string
	// PromptSet is whether --prompt was given: a corpus without a newline has no "\n" to
	// start from, and the default prompt is then the first token of its vocabulary.
	PromptSet bool
	Text      models.SampleOptions
	Input     string // sequence-to-sequence models: the source
	Beam      int
}

func newSampleCmd(g *globalOptions) *cobra.Command {
	o := &sampleOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "sample MODEL",
		Short: "Generate samples from a trained model",
		Long: "sample draws from a trained model: images as a PNG grid or an .npy array, text streamed\n" +
			"to stdout (or --out) as it is generated, -n counting tokens.",
		Example: "  aigc sample vae -n 64                 # PNG grid, 8 per row\n" +
			"  aigc sample vae -n 1000 --format npy -o vae.npy --seed 3\n" +
			"  aigc sample lstm --prompt \"ROMEO:\" -n 500 --temperature 0.8 --top-k 40 --top-p 0.95 --seed 1\n" +
			"  aigc sample transformer --input \"3 1 4 1 5\" --beam 4",
		Args: oneModel,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Model = args[0]
			if err := checkFlagsApply(cmd, o.Model); err != nil {
				return err
			}
			o.PromptSet = cmd.Flags().Changed("prompt")
			return runSample(o)
		},
	}
	o.From.bind(cmd)
	f := cmd.Flags()
	f.IntVarP(&o.N, "count", "n", -1, "number of images to draw, or of tokens to generate")
	defaultIs(cmd, "count", "64 images, 500 tokens")
	f.StringVar(&o.Prompt, "prompt", "\n", "text models: the text to continue")
	defaultIs(cmd, "prompt", "a newline, or the first token of a vocabulary without one")
	f.StringVar(&o.Input, "input", "", "sequence-to-sequence models: the source, tokens separated by spaces")
	f.IntVar(&o.Beam, "beam", 1, "sequence-to-sequence models: beam width (1: greedy)")
	f.Float64Var(&o.Text.Temperature, "temperature", 0.8, "text models: divide the logits by this (0: always the likeliest token)")
	f.IntVar(&o.Text.TopK, "top-k", 0, "text models: draw from the k likeliest tokens only (0: all)")
	f.Float64Var(&o.Text.TopP, "top-p", 0, "text models: draw from the fewest likeliest tokens whose probability reaches p (0: all)")
	f.StringVarP(&o.Out, "out", "o", "", "output file (default RUN/samples.png or .npy)")
	f.StringVar(&o.Format, "format", "", "png (a grid) or npy (N×H×W float32); default from --out's extension, else png")
	onlyFor(cmd, []models.DataKind{models.Text}, "prompt", "temperature", "top-k", "top-p")
	onlyFor(cmd, []models.DataKind{models.Pairs}, "input", "beam")
	onlyFor(cmd, []models.DataKind{models.Images}, "format")
	onlyFor(cmd, []models.DataKind{models.Images, models.Text}, "count", "out")
	return cmd
}

func runSample(o *sampleOptions) error {
	if fam, err := models.Lookup(o.Model); err == nil && fam.Data == models.Text {
		return sampleText(o)
	} else if err == nil && fam.Data == models.Pairs {
		return samplePairs(o)
	}
	if o.N == -1 {
		o.N = 64
	}
	if o.N < 1 || o.N > maxSamples {
		return usageError{fmt.Errorf("-n must be between 1 and %d (got %d)", maxSamples, o.N)}
	}
	out, format, err := o.imageOutput()
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
	if err := writeImages(out, format, images, o.N, l.Env); err != nil {
		return err
	}
	fmt.Fprintf(o.globalOptions.Out, "wrote %d samples to %s\n", o.N, out)
	return nil
}

// imageOutput is the file -o names (default RUN/samples.png, or .npy with --format npy)
// and its format, which its extension names; --format, when given, must agree.
func (o *sampleOptions) imageOutput() (path, format string, err error) {
	if o.Format != "" && o.Format != "png" && o.Format != "npy" {
		return "", "", usageError{fmt.Errorf("--format %q: want png or npy", o.Format)}
	}
	path = o.Out
	if path == "" {
		path = filepath.Join(runDir(o.From.Run, o.Model), "samples."+cmp.Or(o.Format, "png"))
	}
	if format, err = train.CheckOutput(path, train.ImageOutput); err != nil {
		return "", "", usageError{err}
	}
	if o.Format != "" && o.Format != format {
		return "", "", usageError{fmt.Errorf("--format %s, but %s names a .%s file: the extension names the format", o.Format, path, format)}
	}
	return path, format, nil
}

// writeImages writes n images atomically as a PNG grid (8 per row, 2 pixels of padding)
// or an N×H×W float32 .npy file.
func writeImages(path, format string, images []float32, n int, env models.Env) error {
	if _, err := train.CheckOutput(path, train.ImageOutput); err != nil {
		return err
	}
	return checkpoints.WriteAtomic(path, func(w io.Writer) error {
		if format == "npy" {
			return datasets.WriteNPY(w, images, []int{n, env.ImageH, env.ImageW})
		}
		return datasets.WriteGrid(w, images, n, env.ImageH, env.ImageW, 8, 2)
	})
}

// sampleText streams generated text to stdout, or writes it to --out.
func sampleText(o *sampleOptions) error {
	if o.N == -1 {
		o.N = 500
	}
	if o.N < 0 || o.N > maxTokens {
		return usageError{fmt.Errorf("-n must be between 0 and %d tokens (got %d)", maxTokens, o.N)}
	}
	if err := o.Text.Validate(); err != nil {
		return usageError{err}
	}
	if o.Out != "" {
		if _, err := train.CheckOutput(o.Out, train.TextOutput); err != nil {
			return usageError{err}
		}
	}
	l, err := o.From.open(o.Model)
	if err != nil {
		return err
	}
	defer l.Model.Close()
	gen, ok := l.Model.(models.TextGenerator)
	if !ok {
		return fmt.Errorf("model %s cannot generate text", l.Family.Name)
	}
	if !o.PromptSet {
		o.Prompt = defaultPrompt(gen.Tokenizer())
	}
	if _, err := gen.Tokenizer().Encode(o.Prompt); err != nil {
		return usageError{fmt.Errorf("--prompt: %w", err)}
	}
	if _, err := o.chooseDevice(); err != nil {
		return err
	}
	if o.Out == "" {
		if err := generateText(o.globalOptions.Out, gen, o.Prompt, o.N, o.Text, rng.New(o.Seed)); err != nil {
			return err
		}
		fmt.Fprintln(o.globalOptions.Out)
		return nil
	}
	err = checkpoints.WriteAtomic(o.Out, func(w io.Writer) error {
		return generateText(w, gen, o.Prompt, o.N, o.Text, rng.New(o.Seed))
	})
	if err == nil {
		fmt.Fprintf(o.globalOptions.Out, "wrote %d tokens to %s\n", o.N, o.Out)
	}
	return err
}

// samplePairs decodes --input with a sequence-to-sequence model.
func samplePairs(o *sampleOptions) error {
	if o.Beam < 1 || o.Beam > 64 {
		return usageError{fmt.Errorf("--beam must be between 1 and 64 (got %d)", o.Beam)}
	}
	l, err := o.From.open(o.Model)
	if err != nil {
		return err
	}
	defer l.Model.Close()
	out, err := translate(l, o.Input, o.Beam)
	if err != nil {
		return err
	}
	fmt.Fprintln(o.globalOptions.Out, out)
	return nil
}
