package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/dist"
	"github.com/aigc-go/aigc/graph"
	"github.com/aigc-go/aigc/internal/rng"
	"github.com/aigc-go/aigc/models"
)

// File names inside a run directory.
const (
	LatestFile  = "latest.safetensors"
	BestFile    = "best.safetensors"
	ConfigFile  = "config.yaml"
	MetricsFile = "metrics.jsonl"
	// TensorBoardDir holds the run's TensorBoard event files: tensorboard --logdir RUN/tb.
	TensorBoardDir = "tb"
)

// emaUpdatesKey records in a checkpoint's metadata how many updates the averaged weights
// have had.
const emaUpdatesKey = "ema.updates"

// ErrInterrupted is returned when a signal stopped the run; the checkpoint it saved first
// is in Result.Latest.
var ErrInterrupted = errors.New("interrupted")

// Options describe one training run.
type Options struct {
	Family *models.Family
	Config configs.Config
	Env    models.Env
	Model  models.Model
	Train  datasets.Stream // shuffled, seeded by Seed and the epoch number
	Eval   datasets.Stream // the held-out split, in order
	RNG    *rng.RNG        // the run's generator; the model was initialised from it
	Seed   uint64
	// Data is where the training data came from and its fingerprint: recorded in the run
	// directory, and checked on resuming.
	Data datasets.Origin

	RunDir   string
	MaxSteps int  // stop after this many optimiser steps in all (0: run every epoch)
	Fresh    bool // ignore (and delete) the run directory's checkpoints

	// OnEpoch, when set, runs after each completed epoch has been evaluated and saved,
	// with the number of epochs done: the place for per-epoch figures. The files it
	// returns (a sample grid, a text sample) go into the TensorBoard log too.
	OnEpoch func(epochs int) ([]string, error)

	Out   io.Writer // progress and messages
	Bar   bool      // draw a live progress bar
	Quiet bool      // print nothing but what must be said
	// LineEvery is the least time between two progress lines when no bar is drawn (a line
	// is due every log_every steps); 0 prints every one.
	LineEvery time.Duration
	Version   string // aigc's version, recorded in checkpoints
	Command   string // the command line, recorded in the run directory's lock
	// Lock, when the caller took the run directory's lock already (LockRunDir), is held
	// by the caller; otherwise Run takes it for the run.
	Lock *RunLock
}

// Result is where a run ended.
type Result struct {
	Step      int
	Total     int            // the step the session was to stop at
	Epochs    float64        // epochs done, with the fraction of the current one
	Iterative bool           // the run counts iterations (max_iters), not epochs
	Eval      models.Metrics // the last evaluation, if any
	Latest    string         // path of the latest checkpoint
	Resumed   bool
}

type trainer struct {
	o         Options
	world     dist.Comm // the processes training together (one, unless data-parallel)
	tc        *configs.Train
	spe       int // optimiser steps per epoch
	planned   int // the steps of the whole run, which the learning-rate schedule spans
	step      int
	bestEval  float64
	wall      float64 // training seconds, summed over resumed sessions
	log       *metricsLog
	prog      *progress
	sinceEval window // the training metrics since the last evaluation
	res       Result
	baseLR    []float64  // each optimiser's configured rate, which the schedule scales
	ema       *graph.EMA // the averaged weights, when the config asks for them
	// firstLoss is the loss of the run's first training step, the scale against which an
	// exploding evaluation is judged (0 until known).
	firstLoss float64
	aside     bool // RUN/previous holds the run --fresh replaced, until this one saves
}

// Run trains o.Model as o describes, resuming from o.RunDir's latest checkpoint unless
// o.Fresh.
func Run(ctx context.Context, o Options) (*Result, error) {
	tc := o.Config.TrainConfig()
	world := dist.World()
	if world.Rank() != 0 { // the lead alone shows progress and writes figures
		o.Quiet, o.Bar, o.OnEpoch = true, false, nil
	}
	t := &trainer{o: o, world: world, tc: tc, spe: datasets.StepsPerEpoch(o.Train, tc.GradAccumSteps), bestEval: math.Inf(1),
		prog: &progress{out: o.Out, bar: o.Bar && !o.Quiet, quiet: o.Quiet, unit: "samples", every: o.LineEvery, evalEvery: evalLineEvery}}
	if o.Family != nil && o.Family.Data == models.Text {
		t.prog.unit = "tokens"
	}
	if t.spe == 0 {
		return nil, fmt.Errorf("training set has fewer examples than one batch of %d", o.Train.BatchSize())
	}
	t.planned = tc.Epochs * t.spe
	if it, ok := o.Config.(configs.Iterative); ok {
		t.planned = it.Iterations()
		t.prog.iterative = true
	}
	t.prog.epochs, t.prog.spe = tc.Epochs, t.spe
	for _, opt := range o.Model.Optimizers() {
		t.baseLR = append(t.baseLR, opt.LR)
	}
	if o.Lock == nil && t.lead() {
		lock, err := LockRunDir(o.RunDir, o.Command)
		if err != nil {
			return nil, err
		}
		defer lock.Unlock()
	}
	if err := t.joinRanks(); err != nil {
		return nil, err
	}
	t.ema = Average(o.Model, t.tc)
	if t.lead() {
		if n, bytes := removeStaleTemps(o.RunDir); n > 0 {
			t.say("removed %d temporary files (%d bytes) left in %s by a save that was killed", n, bytes, o.RunDir)
		}
	}
	t.res.Latest = filepath.Join(o.RunDir, LatestFile)
	if err := t.prepare(); err != nil {
		return nil, err
	}
	if t.parallel() {
		o.RNG.Shard(world.Rank(), world.Size()) // each rank draws its rows' noise
	}
	if t.lead() {
		var err error
		if t.log, err = openMetrics(o.RunDir, t.step, o.Fresh); err != nil {
			return nil, fmt.Errorf("metrics log: %w", err)
		}
		defer t.log.Close()
	}
	err := t.loop(ctx)
	t.prog.finish()
	t.res.Step, t.res.Epochs, t.res.Iterative = t.step, t.epochFrac(), t.prog.iterative
	return &t.res, err
}

// prepare resumes from the latest checkpoint, or clears the way for a fresh run, and
// records the effective config.
func (t *trainer) prepare() error {
	if err := t.prepareDir(); err != nil {
		if t.parallel() { // the others would wait for the lead below forever
			t.world.Abort(1)
		}
		return err
	}
	_, statErr := os.Stat(t.res.Latest)
	f, err := t.shareCheckpoint(t.res.Latest, t.lead() && statErr == nil && !t.o.Fresh)
	if err != nil {
		return err
	}
	if f != nil {
		if err := t.resume(f); err != nil {
			return Agreed{err}
		}
	}
	if !t.lead() {
		return nil
	}
	return checkpoints.WriteAtomic(filepath.Join(t.o.RunDir, ConfigFile), func(w io.Writer) error {
		_, err := w.Write(configYAML(t.o.Family.Name, t.o.Data, t.o.Seed, t.o.Version, t.o.Config))
		return err
	})
}

// prepareDir is the lead's part of prepare: --fresh sets the old run aside, a plain run
// brings back one an earlier --fresh set aside and never replaced.
func (t *trainer) prepareDir() error {
	if !t.lead() {
		return nil
	}
	prev := filepath.Join(t.o.RunDir, PreviousDir)
	if t.o.Fresh {
		var err error
		if t.aside, err = setAside(t.o.RunDir); err != nil {
			return err
		}
		if t.aside {
			t.say("--fresh: the run it replaces is kept in %s until this one saves its first checkpoint", prev)
		}
	} else if restored, err := restoreAside(t.o.RunDir); err != nil {
		return err
	} else if restored {
		t.say("restored the run that --fresh set aside in %s (the fresh run saved nothing)", prev)
	}
	return nil
}

// resume continues the run from checkpoint f, on every rank.
func (t *trainer) resume(f *checkpoints.File) error {
	path := f.Path
	meta, err := f.DecodeMeta()
	if err != nil {
		return err
	}
	if err := f.ExpectFamily(t.o.Family.Name); err != nil {
		return fmt.Errorf("%w (use another --run directory, or --fresh)", err)
	}
	if err := checkSameData(path, meta, t.o.Data); err != nil {
		return err
	}
	if err := t.checkWorld(path, meta); err != nil {
		return err
	}
	if s := meta.Extra[keySeed]; s != strconv.FormatUint(t.o.Seed, 10) {
		return fmt.Errorf("%s was trained with --seed %s, not %d: rerun with --seed %s to resume, or --fresh", path, s, t.o.Seed, s)
	}
	if err := models.LoadState(t.o.Model, f, meta, true); err != nil {
		return fmt.Errorf("%w%s", err, cannotResume)
	}
	if err := t.resumeAverage(f, meta); err != nil {
		return err
	}
	if err := t.o.RNG.SetState(meta.RNG); err != nil {
		return fmt.Errorf("checkpoint %s: %w", path, err)
	}
	t.step = meta.Step
	t.bestEval = parseFloat(meta.Extra["best_eval"], math.Inf(1))
	t.wall = parseFloat(meta.Extra["wall_s"], 0)
	t.firstLoss = parseFloat(meta.Extra[firstLossKey], 0)
	t.res.Resumed = true
	if !t.o.Quiet {
		fmt.Fprintf(t.o.Out, "resuming from %s at step %d (%.2f epochs done); --fresh starts over\n", path, t.step, t.epochFrac())
	}
	return nil
}

// cannotResume ends the errors of a checkpoint the run cannot continue from: --fresh alone
// would replace the run once the new one saves, so the way that keeps it comes first.
const cannotResume = "; this run cannot resume from it: train in another --run directory (the file stays as it is), or with --fresh, which sets the run aside in RUN/previous and replaces it once the new run saves"

// firstLossKey records the run's first training loss in its checkpoints.
const firstLossKey = "first_loss"

// say prints a line unless quiet.
func (t *trainer) say(format string, a ...any) {
	if !t.o.Quiet {
		fmt.Fprintf(t.o.Out, format+"\n", a...)
	}
}

// resumeAverage restores the averaged weights. A checkpoint without them (a run started
// with ema 0) starts averaging from its weights now.
func (t *trainer) resumeAverage(f *checkpoints.File, meta checkpoints.Meta) error {
	if t.ema == nil {
		return nil
	}
	params := t.o.Model.Params().All()
	if len(params) == 0 {
		return nil
	}
	if _, ok := f.Shape(graph.EMAPrefix + params[0].Name); !ok {
		t.ema = Average(t.o.Model, t.tc) // restart from the resumed weights
		return nil
	}
	n, err := strconv.Atoi(meta.Extra[emaUpdatesKey])
	if err != nil {
		return fmt.Errorf("checkpoint %s: bad or missing %s in its metadata", f.Path, emaUpdatesKey)
	}
	return t.ema.LoadState(f.Tensor, n)
}

// withAverage runs f with the averaged weights in the model's parameters, when the run
// keeps an average: evaluations and per-epoch samples judge the model the run delivers.
func (t *trainer) withAverage(f func() error) error {
	if t.ema == nil {
		return f()
	}
	t.ema.Swap()
	defer t.ema.Swap()
	return f()
}

// Average returns the moving average of m's trainable weights that tc asks for, starting
// at their current values, or nil when tc.EMA is 0. Each of m's optimisers updates it in
// its own pass over its parameters; the trainer and `aigc bench` call its Update after
// each step, which counts it.
func Average(m models.Model, tc *configs.Train) *graph.EMA {
	if tc.EMA <= 0 {
		return nil
	}
	e := graph.NewEMA(m.Params().All(), tc.EMA)
	for _, o := range m.Optimizers() {
		o.Average(e)
	}
	return e
}

func parseFloat(s string, def float64) float64 {
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		return v
	}
	return def
}

// loop runs epochs until the run's planned steps (epochs, or iterations) or MaxSteps are
// done.
func (t *trainer) loop(ctx context.Context) error {
	total := t.planned
	if t.o.MaxSteps > 0 && t.o.MaxSteps < total {
		total = t.o.MaxSteps
	}
	t.res.Total = total
	if t.step >= total {
		if !t.o.Quiet {
			fmt.Fprintf(t.o.Out, "%s is already at step %d of %d: nothing to train\n", t.res.Latest, t.step, total)
		}
		return nil
	}
	t.prog.begin(t.step, total)
	for t.step < total {
		stop, _, err := t.agree(ctx.Err() != nil, 0)
		if err != nil {
			return err
		}
		if stop { // stopped between epochs
			if err := t.save(LatestFile); err != nil {
				return err
			}
			return ErrInterrupted
		}
		interrupted, err := t.epoch(ctx, total)
		if err != nil {
			return err
		}
		if interrupted {
			if err := t.save(LatestFile); err != nil {
				return err
			}
			return ErrInterrupted
		}
		if err := t.evaluateAndSave(ctx); err != nil {
			return err
		}
	}
	return nil
}

// epoch trains from the current step to the end of its epoch (or to total), and reports
// whether a signal stopped it. A step takes grad_accum_steps batches of the stream.
func (t *trainer) epoch(ctx context.Context, total int) (interrupted bool, err error) {
	epoch, start := t.step/t.spe, t.step%t.spe
	k := t.tc.GradAccumSteps
	sctx, cancel := context.WithCancel(context.Background())
	defer cancel() // stops the prefetching goroutine whatever happens
	batches := t.o.Train.Epoch(sctx, epoch, start*k)

	var win window
	last := time.Now()
	for bs := range datasets.Steps(batches, k) {
		lr := t.scheduleLR()
		ms, err := t.o.Model.TrainStep(bs, t.o.RNG)
		rows := 0
		for _, b := range bs {
			rows += b.Items()
			b.Release()
		}
		if err != nil {
			return false, fmt.Errorf("step %d: %w", t.step+1, err)
		}
		// Every rank learns whether any was asked to stop, so all stop after this step.
		stop, rows, err := t.agree(ctx.Err() != nil, rows)
		if err != nil {
			return false, err
		}
		t.step++
		if t.ema != nil {
			t.ema.Update()
		}
		for _, m := range ms {
			if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
				return false, t.diverged(fmt.Sprintf("%s is %v", m.Name, m.Value))
			}
		}
		if t.firstLoss == 0 && len(ms) > 0 {
			t.firstLoss = ms[0].Value
		}
		now := time.Now()
		win.add(ms, rows, now.Sub(last))
		t.sinceEval.add(ms, rows, now.Sub(last))
		t.wall += now.Sub(last).Seconds()
		last = now
		logged := t.step%t.tc.LogEvery == 0
		t.prog.step(t.step, win.mean(), win.rate(), logged || t.step == total)
		if logged {
			if err := t.log.write(record{Kind: "train", Step: t.step, Epoch: t.epochFrac(), Wall: t.wall,
				LR: lr, Rate: win.rate(), Unit: t.prog.unit, Items: win.mean()}); err != nil {
				return false, err
			}
			win = window{}
		}
		if t.step >= total || t.step%t.spe == 0 {
			return false, nil
		}
		if stop {
			return true, nil
		}
		if t.tc.SaveEvery > 0 && t.step%t.tc.SaveEvery == 0 {
			if err := t.save(LatestFile); err != nil {
				return false, err
			}
		}
	}
	return false, nil // the stream ended the epoch
}

// scheduleLR sets every optimiser's rate for the coming step from the config's schedule
// (a function of the step alone, so a resumed run follows it exactly) and returns lr's.
func (t *trainer) scheduleLR() float64 {
	scale := t.tc.LRScale(t.step, t.planned)
	for i, opt := range t.o.Model.Optimizers() {
		opt.LR = t.baseLR[i] * scale
	}
	return t.tc.LR * scale
}

func (t *trainer) epochFrac() float64 { return float64(t.step) / float64(t.spe) }

// diverged reports a non-finite or exploding loss or metric. Nothing is saved: the last
// good checkpoint stays.
func (t *trainer) diverged(what string) error {
	last := "no checkpoint was written yet"
	if t.aside {
		last = "the run that --fresh replaced is kept in " + filepath.Join(t.o.RunDir, PreviousDir) + " and comes back on the next train without --fresh"
	}
	if meta, err := checkpoints.ReadMeta(t.res.Latest); err == nil {
		last = fmt.Sprintf("the last good checkpoint is %s (step %d)", t.res.Latest, meta.Step)
	}
	return Agreed{fmt.Errorf("%s at step %d (epoch %d): the run diverged and stopped without saving; %s; try a lower lr",
		what, t.step, (t.step-1)/t.spe+1, last)}
}

// evaluateAndSave evaluates on the held-out split, logs it, and checkpoints: latest
// always, best when the evaluation loss is the lowest so far.
func (t *trainer) evaluateAndSave(ctx context.Context) error {
	if err := t.shareWeights(); err != nil {
		return err
	}
	if t.parallel() {
		// The ranks evaluate their shares together; one leaving early would leave the
		// others waiting. A signal stops the run after the evaluation instead.
		ctx = context.Background()
	}
	var ev models.Metrics
	eval := watched{t.o.Eval, t.prog.evaluating}
	err := t.withAverage(func() (err error) {
		if ev, err = t.o.Model.Evaluate(ctx, eval, t.o.Seed); err == nil {
			err = t.shareMetrics(ev)
		}
		return err
	})
	if errors.Is(err, context.Canceled) {
		return t.save(LatestFile) // interrupted while evaluating: keep the training progress
	}
	if err != nil {
		return fmt.Errorf("evaluating at step %d: %w", t.step, err)
	}
	if err := t.checkEval(ev); err != nil {
		return err
	}
	t.res.Eval = ev
	if err := t.log.write(record{Kind: "eval", Step: t.step, Epoch: t.epochFrac(), Wall: t.wall, Items: ev}); err != nil {
		return err
	}
	names := []string{LatestFile}
	if loss := ev[0].Value; loss < t.bestEval {
		t.bestEval = loss
		names = append(names, BestFile)
	}
	if err := t.save(names...); err != nil {
		return err
	}
	t.prog.evaluated(t.step, t.sinceEval.mean(), ev, t.wall)
	t.sinceEval = window{}
	if t.o.OnEpoch != nil && t.step%t.spe == 0 {
		var files []string
		err := t.withAverage(func() (err error) {
			files, err = t.o.OnEpoch(t.step / t.spe)
			return err
		})
		if err != nil {
			return fmt.Errorf("after epoch %d: %w", t.step/t.spe, err)
		}
		for _, f := range files {
			if err := t.log.artifact("samples", t.step, f); err != nil {
				return fmt.Errorf("after epoch %d: TensorBoard log: %w", t.step/t.spe, err)
			}
		}
	}
	return nil
}

// checkEval stops a run whose evaluation is non-finite or has exploded: above
// diverge_factor times the first training loss, or above diverge_above.
func (t *trainer) checkEval(ev models.Metrics) error {
	for _, m := range ev {
		if math.IsNaN(m.Value) || math.IsInf(m.Value, 0) {
			return t.diverged(fmt.Sprintf("the evaluation's %s is %v", m.Name, m.Value))
		}
	}
	if len(ev) == 0 {
		return nil
	}
	loss := ev[0]
	if f := t.tc.DivergeFactor; f > 0 && t.firstLoss > 0 && loss.Value > f*t.firstLoss {
		return t.diverged(fmt.Sprintf("the evaluation's %s %.4g is over diverge_factor=%g times the first training loss %.4g",
			loss.Name, loss.Value, f, t.firstLoss))
	}
	if a := t.tc.DivergeAbove; a > 0 && loss.Value > a {
		return t.diverged(fmt.Sprintf("the evaluation's %s %.4g is over diverge_above=%g", loss.Name, loss.Value, a))
	}
	return nil
}

// save writes the model, its optimisers and the run's state to the named files (the lead
// alone: every rank holds the same state).
func (t *trainer) save(names ...string) error {
	if !t.lead() {
		return nil
	}
	extra := map[string]string{
		keySeed:        strconv.FormatUint(t.o.Seed, 10),
		"wall_s":       strconv.FormatFloat(t.wall, 'f', 3, 64),
		keyWorldSize:   strconv.Itoa(t.world.Size()),
		keyGlobalBatch: strconv.Itoa(t.globalBatch()),
	}
	recordData(extra, t.o.Data)
	if t.firstLoss != 0 {
		extra[firstLossKey] = strconv.FormatFloat(t.firstLoss, 'g', -1, 64)
	}
	if !math.IsInf(t.bestEval, 1) {
		extra["best_eval"] = strconv.FormatFloat(t.bestEval, 'g', -1, 64)
	}
	models.StateMeta(t.o.Model, t.o.Env, extra)
	meta := checkpoints.Meta{
		Family: t.o.Family.Name, Version: t.o.Version, Config: configs.JSON(t.o.Config),
		Step: t.step, Epoch: t.step / t.spe, RNG: t.o.RNG.State(), Extra: extra,
	}
	tensors := models.StateTensors(t.o.Model)
	if t.ema != nil {
		tensors = append(tensors, t.ema.State()...)
		extra[emaUpdatesKey] = strconv.Itoa(t.ema.Updates)
	}
	for _, name := range names {
		if err := checkpoints.Write(filepath.Join(t.o.RunDir, name), tensors, meta.Encode()); err != nil {
			return err
		}
	}
	if t.aside { // the new run has a checkpoint of its own: the old one can go
		t.aside = false
		if err := os.RemoveAll(filepath.Join(t.o.RunDir, PreviousDir)); err != nil {
			return err
		}
	}
	return nil
}

// window averages metrics and measures throughput between two log lines.
type window struct {
	sums    models.Metrics
	steps   int
	samples int
	elapsed time.Duration
}

func (w *window) add(ms models.Metrics, rows int, d time.Duration) {
	if w.sums == nil {
		w.sums = make(models.Metrics, len(ms))
		for i, m := range ms {
			w.sums[i].Name = m.Name
		}
	}
	for i, m := range ms {
		w.sums[i].Value += m.Value
	}
	w.steps++
	w.samples += rows
	w.elapsed += d
}

func (w *window) mean() models.Metrics {
	out := make(models.Metrics, len(w.sums))
	for i, m := range w.sums {
		out[i] = models.Metric{Name: m.Name, Value: m.Value / float64(max(w.steps, 1))}
	}
	return out
}

func (w *window) rate() float64 {
	if w.elapsed <= 0 {
		return 0
	}
	return float64(w.samples) / w.elapsed.Seconds()
}
