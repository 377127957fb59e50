package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/dist"
	"github.com/aigc-go/aigc/internal/rng"
	"github.com/aigc-go/aigc/models"
	"github.com/aigc-go/aigc/train"
)

type trainOptions struct {
	*globalOptions
	Model     string
	Config    configFlags
	Data      string
	Run       string
	Steps     int
	SaveEvery int // -1: the config's save_every
	Fresh     bool
	// ProgressEvery is the least time between progress lines when stdout is not a terminal.
	ProgressEvery time.Duration
}

func newTrainCmd(g *globalOptions) *cobra.Command {
	o := &trainOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "train MODEL",
		Short: "Train a model, resuming its run directory's latest checkpoint",
		Example: "  aigc train vae\n" +
			"  aigc train vae --set epochs=1 --run runs/vae-short\n" +
			"  aigc train vae --data fashion-mnist --steps 100\n" +
			"  aigc train lstm --set tokenizer=bpe --set vocab_size=512 --data corpus.txt",
		Args: oneModel,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Model = args[0]
			return runTrain(cmd.Context(), o)
		},
	}
	o.Config.bind(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Data, "data", "", "image folder or downloaded set name (default: the embedded MNIST); for a\nlanguage model a UTF-8 text file (default: the embedded tiny Shakespeare)")
	f.StringVar(&o.Run, "run", "", "run directory for config, metrics and checkpoints (default runs/MODEL)")
	f.IntVar(&o.Steps, "steps", 0, "stop after N optimiser steps in all (0: train every epoch)")
	f.IntVar(&o.SaveEvery, "save-every", -1, "also checkpoint every N steps")
	defaultIs(cmd, "save-every", "the config's save_every")
	f.BoolVar(&o.Fresh, "fresh", false, "start over, setting the run directory's checkpoints aside until the new run saves")
	f.DurationVar(&o.ProgressEvery, "progress-every", 5*time.Second, "without a terminal: a progress line every log_every steps, at most one per this")
	return cmd
}

func runTrain(ctx context.Context, o *trainOptions) error {
	if o.Steps < 0 {
		return usageError{fmt.Errorf("--steps must be >= 0 (got %d)", o.Steps)}
	}
	if o.SaveEvery >= 0 {
		o.Config.Sets = append(o.Config.Sets, "save_every="+strconv.Itoa(o.SaveEvery))
	}
	fam, cfg, err := o.Config.load(o.Model)
	if err != nil {
		return err
	}
	dir := runDir(o.Run, o.Model)
	command := "aigc " + strings.Join(o.Args, " ")
	var lock *train.RunLock
	if dist.World().Rank() == 0 { // the lead writes the run
		if lock, err = train.LockRunDir(dir, command); err != nil { // before any work: a second trainer stops at once
			return err
		}
		defer lock.Unlock()
	}
	data, err := o.loadRunData(fam, cfg, dir)
	if err != nil {
		return err
	}
	if err := announceRanks(o.globalOptions); err != nil {
		return err
	}
	env := data.Env
	if _, err := o.chooseDevice(); err != nil {
		return err
	}
	if !o.Quiet {
		fmt.Fprintf(o.Out, "training %s on %s, run directory %s\n%s", fam.Name, data.What, dir, indent(configs.YAML(cfg)))
	}
	r := rng.New(o.Seed)
	m, err := fam.Build(cfg, env, r)
	if err != nil {
		return err
	}
	defer m.Close()
	opts := train.Options{
		Family: fam, Config: cfg, Env: env, Model: m, Train: data.Train, Eval: data.Eval,
		RNG: r, Seed: o.Seed, Data: data.Origin, RunDir: dir, MaxSteps: o.Steps, Fresh: o.Fresh,
		Out: o.Out, Bar: o.Terminal, Quiet: o.Quiet, LineEvery: o.ProgressEvery, Version: version, Command: command, Lock: lock,
	}
	switch s := m.(type) {
	case models.ImageSampler:
		opts.OnEpoch = func(epoch int) ([]string, error) { return epochGrid(s, dir, epoch, o.Seed, env) }
	case models.TextGenerator:
		opts.OnEpoch = func(epoch int) ([]string, error) { return epochText(s, dir, epoch, o.Seed) }
	}
	res, err := train.Run(ctx, opts)
	if errors.Is(err, train.ErrInterrupted) {
		if dist.World().Rank() == 0 {
			fmt.Fprintf(o.Err, "aigc: interrupted at step %d; saved %s\nresume with: %s\n", res.Step, res.Latest, o.resumeCommand())
		}
		return err
	}
	if err != nil {
		return err
	}
	summary := fmt.Sprintf("%s: step %d of %d", dir, res.Step, res.Total)
	if res.Iterative {
		summary = fmt.Sprintf("%s: iter %d/%d", dir, res.Step, res.Total)
	}
	if o.Steps > 0 && res.Step == o.Steps {
		summary += fmt.Sprintf(" (--steps %d)", o.Steps)
	}
	if !res.Iterative {
		summary += fmt.Sprintf(", epoch %.3g of %d", res.Epochs, cfg.TrainConfig().Epochs)
	}
	if len(res.Eval) > 0 {
		summary += ", eval " + res.Eval.String()
	}
	fmt.Fprintln(o.Out, summary)
	o.say("sample with: aigc sample %s --run %s", fam.Name, dir)
	return nil
}

// loadRunData loads --data, or, resuming a run without --data, the data the run recorded
// that it trained on (a folder, a file, a downloaded set), saying so. In a data-parallel
// run rank 0 decides, from its run directory, and every rank reads that data itself.
func (o *trainOptions) loadRunData(fam *models.Family, cfg configs.Config, dir string) (*trainingData, error) {
	arg, note := o.Data, ""
	var rec datasets.Origin
	if o.Data == "" && !o.Fresh && dist.World().Rank() == 0 {
		var ckpt string
		var ok bool
		var err error
		if rec, ckpt, ok, err = train.RunData(dir); err == nil && ok && rec.Arg != "" { // a damaged checkpoint: the resume says so
			arg, note = rec.Arg, ckpt
		}
	}
	b, err := dist.BroadcastBytes(dist.World(), []byte(arg), 0)
	if err != nil {
		return nil, err
	}
	data, err := loadData(fam, cfg, string(b), o.Seed, o.shard())
	switch {
	case err != nil && note != "":
		return nil, fmt.Errorf("%s records that its run trained on %s, which cannot be read now (%w): give --data, or --fresh to start over",
			note, rec.Name, err)
	case err != nil:
		return nil, err
	case note != "":
		o.say("training on the run's data, %s (recorded in %s; --data chooses other data)", rec.Name, note)
	}
	return data, nil
}

// indent prefixes every line of a YAML dump for display under a heading.
func indent(b []byte) string {
	lines := strings.SplitAfter(strings.TrimRight(string(b), "\n"), "\n")
	return "  " + strings.Join(lines, "  ") + "\n"
}

// resumeCommand is the command line that continues this run: the same one, less --fresh
// (under mpirun with as many processes).
func (o *trainOptions) resumeCommand() string {
	parts := []string{"aigc"}
	if n := dist.World().Size(); n > 1 {
		parts = []string{"mpirun", "-np", strconv.Itoa(n), "aigc"}
	}
	for _, a := range o.Args {
		if a == "--fresh" || a == "--fresh=true" {
			continue
		}
		if strings.ContainsAny(a, " \t'\"$") {
			a = strconv.Quote(a)
		}
		parts = append(parts, a)
	}
	return strings.Join(parts, " ")
}

// gridNoiseStream is the RNG stream of the noise behind every epoch's sample grid: the same
// for each epoch (and after resuming), so the grids show one set of samples improving.
const gridNoiseStream = 1 << 41

// epochGrid writes RUN/samples/epoch_NNN.png: 64 samples from the fixed noise.
func epochGrid(s models.ImageSampler, dir string, epoch int, seed uint64, env models.Env) ([]string, error) {
	images, err := s.SampleImages(64, rng.Stream(seed, gridNoiseStream))
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "samples"), 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "samples", fmt.Sprintf("epoch_%03d.png", epoch))
	return []string{path}, writeImages(path, "png", images, 64, env)
}
