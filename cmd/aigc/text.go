package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/internal/rng"
	"github.com/aigc-go/aigc/models"
)

// textData is a corpus tokenised for a language model and streamed in its windows.
type textData struct {
	Corpus              *datasets.Corpus
	Train, Val          *datasets.TokenStream
	TrainTokens, ValTok int
	Env                 models.Env
}

// loadText reads --data (a UTF-8 file, or "" for the embedded tiny Shakespeare) and
// tokenises it: with tok (a checkpoint's tokeniser) when given, else with a tokeniser learnt
// from the training split as the config says.
//
// The validation stream sweeps the whole split, unless the config asks for a number of
// random validation batches per evaluation (GPT's eval_iters) and fullVal is false.
func loadText(fam *models.Family, cfg configs.Config, path string, seed uint64, tok datasets.Tokenizer, fullVal bool, shard datasets.Shard) (*textData, error) {
	tcfg, ok := cfg.(models.TextConfig)
	if fam.Data != models.Text || !ok {
		return nil, fmt.Errorf("model %s reads %s, not text", fam.Name, fam.Data)
	}
	text := tcfg.TextConfig()
	corpus, err := datasets.LoadCorpus(path)
	if err != nil {
		return nil, err
	}
	if tok == nil {
		// A BPE learns from the training split alone. The character set is the whole
		// corpus's (as nanoGPT's): a character seen only in validation must still be
		// scorable, and knowing it exists teaches the model nothing about the text.
		src := corpus.Train
		if text.Tokenizer == "char" {
			src = corpus.Text
		}
		if tok, err = datasets.TrainTokenizer(text.Tokenizer, src, text.VocabSize); err != nil {
			return nil, fmt.Errorf("%s: %w", corpus.Source, err)
		}
	}
	d := &textData{Corpus: corpus, Env: models.Env{Tokenizer: tok}}
	train, err := tok.Encode(corpus.Train)
	if err != nil {
		return nil, fmt.Errorf("%s (training split): %w", corpus.Source, err)
	}
	val, err := tok.Encode(corpus.Val)
	if err != nil {
		return nil, fmt.Errorf("%s (validation split): %w", corpus.Source, err)
	}
	d.TrainTokens, d.ValTok = len(train), len(val)
	order := datasets.RandomWindows
	if c, ok := cfg.(interface{ Contiguous() bool }); ok && c.Contiguous() {
		order = datasets.ContiguousRows
	}
	bs := cfg.TrainConfig().BatchSize
	perEpoch := 0
	if c, ok := cfg.(interface{ StepsPerEpoch() int }); ok {
		perEpoch = c.StepsPerEpoch() * cfg.TrainConfig().GradAccumSteps // a step takes that many batches
	}
	if d.Train, err = datasets.NewTokenStream(train, corpus.Source+" (training split)", datasets.TokenStreamOptions{
		BatchSize: bs, Window: text.BlockSize, Order: order, Seed: seed, BatchesPerEpoch: perEpoch, Shard: shard}); err != nil {
		return nil, err
	}
	perToken := float64(utf8.RuneCountInString(corpus.Val)) / float64(max(len(val), 1))
	valOpts := datasets.TokenStreamOptions{BatchSize: bs, Window: text.BlockSize, Order: datasets.Sweep, CharsPerToken: perToken}
	if c, ok := cfg.(interface{ EvalBatches() int }); ok && c.EvalBatches() > 0 && !fullVal {
		// eval_iters batches of the global batch (every rank's and micro-batch's rows),
		// drawn in the order one process with the global batch draws them.
		global := shard.Size() * cfg.TrainConfig().GradAccumSteps
		valOpts.Order, valOpts.BatchesPerEpoch, valOpts.Seed = datasets.RandomWindows, c.EvalBatches()*global, seed+1
	}
	if d.Val, err = datasets.NewTokenStream(val, corpus.Source+" (validation split)", valOpts); err != nil {
		return nil, err
	}
	return d, nil
}

// describe is the data line printed at the start of training.
func (d *textData) describe() string {
	return fmt.Sprintf("%s (%s tokeniser, %d tokens in its vocabulary; %d training and %d validation tokens)",
		d.Corpus.Source, d.Env.Tokenizer.Kind(), d.Env.Tokenizer.VocabSize(), d.TrainTokens, d.ValTok)
}

// defaultPrompt is what text is generated from when no --prompt is given: a newline, as
// nanoGPT's sample.py starts, or, where the corpus has none, the first token of its vocabulary.
func defaultPrompt(tok datasets.Tokenizer) string {
	if _, err := tok.Encode("\n"); err == nil {
		return "\n"
	}
	return datasets.Decode(tok, []int32{0})
}

// epochText writes RUN/samples/epoch_NNN.txt: text generated from the default prompt with
// fixed randomness, so the files show one sample improving.
func epochText(gen models.TextGenerator, dir string, epoch int, seed uint64) ([]string, error) {
	var sb strings.Builder
	if err := generateText(&sb, gen, defaultPrompt(gen.Tokenizer()), 500, models.SampleOptions{Temperature: 0.8}, rng.Stream(seed, gridNoiseStream)); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "samples"), 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "samples", fmt.Sprintf("epoch_%03d.txt", epoch))
	return []string{path}, checkpoints.WriteAtomic(path, func(w io.Writer) error {
		_, err := io.WriteString(w, sb.String())
		return err
	})
}

// generateText writes the prompt and then n generated tokens to w as they are drawn.
func generateText(w io.Writer, gen models.TextGenerator, prompt string, n int, o models.SampleOptions, r *rng.RNG) error {
	tok := gen.Tokenizer()
	ids, err := tok.Encode(prompt)
	if err != nil {
		return fmt.Errorf("--prompt: %w", err)
	}
	if len(ids) == 0 {
		return fmt.Errorf("--prompt: empty after tokenising")
	}
	if _, err := io.WriteString(w, prompt); err != nil {
		return err
	}
	dec := datasets.NewStreamDecoder(tok)
	err = gen.Generate(ids, n, o, r, func(id int32) error {
		_, err := io.WriteString(w, dec.Next(id))
		return err
	})
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, dec.Flush())
	return err
}

// evalText scores a language model on the validation split of --data.
func evalText(ctx context.Context, o *evalOptions, l *models.Loaded) error {
	d, err := loadText(l.Family, l.Config, recordedData(o.Data, l), o.Seed, l.Env.Tokenizer, true, datasets.Shard{})
	if err != nil {
		return recordedDataError(err, o.Data, l)
	}
	if _, err := o.chooseDevice(); err != nil {
		return err
	}
	ms, err := l.Model.Evaluate(ctx, o.watchEvaluation(d.Val), o.Seed)
	if err != nil {
		return err
	}
	rep := evalReport{Model: l.Family.Name, Checkpoint: l.Path, Step: l.Meta.Step, Data: d.Corpus.Source, Examples: d.Val.Targets()}
	rep.add(ms)
	if o.JSON {
		return printJSON(o.Out, rep)
	}
	fmt.Fprintf(o.Out, "%s at step %d on the %s validation split (%d tokens):\n"+
		"  loss %.4f nats/token, %.4f bits per character, perplexity %.3f\n",
		l.Path, rep.Step, rep.Data, rep.Examples, rep.Metrics["loss"], rep.Metrics["bpc"], rep.Metrics["ppl"])
	return nil
}
