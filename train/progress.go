package train

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/models"
)

// progress shows a run's advance over all the steps this session will take (so the ETA of
// --steps 30 is that of 30 steps): a live bar on a terminal; otherwise a line every
// log_every steps, at most one per `every`, and a line per evaluation with the training
// and evaluation losses, as nanoGPT prints them.
type progress struct {
	out   io.Writer
	bar   bool // draw a live bar (stdout is a terminal and not --quiet)
	quiet bool
	unit  string        // what the rate counts: samples, or tokens
	every time.Duration // piped output: the least time between two step lines
	// evalEvery is how long an evaluation runs before its advance is shown, and then the
	// least time between two of its lines.
	evalEvery time.Duration

	// The plan: iteration-based runs (the GPT) count iterations, the others epochs of spe
	// steps.
	iterative     bool
	epochs, spe   int
	first, total  int // this session's first step and the step it stops at
	started, last time.Time
	cur           *progressbar.ProgressBar
	mu            sync.Mutex // evaluation progress arrives from the stream's goroutine
}

// begin starts the session's count at step, towards total.
func (p *progress) begin(step, total int) {
	p.first, p.total = step, total
	p.started = time.Now()
	if p.bar {
		p.cur = progressbar.NewOptions(total-step,
			progressbar.OptionSetWriter(p.out),
			progressbar.OptionSetWidth(24),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
}

// where is "epoch 2/10  step 600/4690" (the epoch step 600 belongs to: the last step of
// epoch 1 is in epoch 1), or "iter 250/2000".
func (p *progress) where(step int) string {
	if p.iterative {
		return fmt.Sprintf("iter %d/%d", step, p.total)
	}
	return fmt.Sprintf("epoch %d/%d  step %d/%d", min(max(step-1, 0)/p.spe+1, p.epochs), p.epochs, step, p.total)
}

// eta is the time the session's remaining steps will take at its pace so far.
func (p *progress) eta(step int) time.Duration {
	done := step - p.first
	if done <= 0 {
		return 0
	}
	per := time.Since(p.started) / time.Duration(done)
	return (per * time.Duration(p.total-step)).Round(time.Second)
}

// step reports a finished step with the metrics and rate of the steps since the last log
// line; logged says whether this step wrote a metrics.jsonl line.
func (p *progress) step(step int, ms models.Metrics, rate float64, logged bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil {
		p.cur.Describe(fmt.Sprintf("%s %s %s %s/s", p.where(step), ms, thousands(rate), p.unit))
		p.cur.Set(step - p.first)
		return
	}
	if p.quiet || !logged || time.Since(p.last) < p.every {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.out, "%s  %s  %s %s/s  ETA %s\n", p.where(step), ms, thousands(rate), p.unit, p.eta(step))
}

// evaluated prints the line of an evaluation: the training loss since the last one and
// the evaluation's.
func (p *progress) evaluated(step int, train, eval models.Metrics, wall float64) {
	what := "eval"
	if p.iterative {
		what = "val" // nanoGPT's word
	}
	line := fmt.Sprintf("%s  %s %s", p.where(step), what, eval)
	if len(train) > 0 {
		line = fmt.Sprintf("%s  train %s %.5g  %s %s", p.where(step), train[0].Name, train[0].Value, what, eval)
	}
	p.line("%s  %.1fs", line, wall)
}

// evaluating reports a long evaluation's advance: done of total batches.
func (p *progress) evaluating(done, total int, since time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.quiet {
		return
	}
	if p.cur != nil {
		p.cur.Describe(fmt.Sprintf("evaluating %d/%d batches", done, total))
		return
	}
	if time.Since(since) < p.evalEvery || time.Since(p.last) < p.evalEvery {
		return // a short evaluation needs no line
	}
	p.last = time.Now()
	eta := time.Duration(float64(time.Since(since)) / float64(done) * float64(total-done)).Round(time.Second)
	fmt.Fprintf(p.out, "evaluating: %d/%d batches, ETA %s\n", done, total, eta)
}

// finish clears a bar left on the screen, so that what is printed next starts a line.
func (p *progress) finish() {
	if p.cur != nil {
		p.cur.Clear()
	}
}

// line prints a line that stays (an evaluation's), clearing the bar first; the bar comes
// back at the next step.
func (p *progress) line(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.finish()
	if !p.quiet {
		fmt.Fprintf(p.out, format+"\n", a...)
	}
}

// evalLineEvery is how long an evaluation goes on before its progress is shown.
const evalLineEvery = 5 * time.Second

// watched streams s's batches, reporting each one taken to report (for the progress of a
// long evaluation). Batches pass through unchanged.
type watched struct {
	datasets.Stream
	report func(done, total int, since time.Time)
}

// CharsPerToken passes on a token stream's characters per token, by which a language model
// reports bits per character.
func (w watched) CharsPerToken() float64 {
	if c, ok := w.Stream.(interface{ CharsPerToken() float64 }); ok {
		return c.CharsPerToken()
	}
	return 1
}

func (w watched) Epoch(ctx context.Context, epoch, start int) <-chan *datasets.Batch {
	in := w.Stream.Epoch(ctx, epoch, start)
	out := make(chan *datasets.Batch)
	since, total := time.Now(), w.BatchesPerEpoch()
	go func() {
		defer close(out)
		done := start
		for b := range in {
			select {
			case out <- b:
			case <-ctx.Done():
				b.Release()
				for b := range in { // the producer closes it once it sees ctx is done
					b.Release()
				}
				return
			}
			done++
			w.report(done, total, since)
		}
	}()
	return out
}

// WatchEvaluation returns s with the progress of an evaluation over it shown on out: a bar
// when bar (a terminal), else a line every few seconds once it has taken that long. For
// `aigc eval`, whose results go to stdout, out is stderr.
func WatchEvaluation(s datasets.Stream, out io.Writer, bar bool) datasets.Stream {
	p := &progress{out: out, evalEvery: evalLineEvery}
	if bar {
		p.cur = progressbar.NewOptions(-1, progressbar.OptionSetWriter(out), progressbar.OptionSpinnerType(14),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
	}
	return watched{s, func(done, total int, since time.Time) {
		p.evaluating(done, total, since)
		if done == total {
			p.mu.Lock()
			p.finish()
			p.mu.Unlock()
		}
	}}
}

// thousands renders a rate as an integer with thousands separators.
func thousands(v float64) string {
	s := fmt.Sprintf("%d", int64(v+0.5))
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
