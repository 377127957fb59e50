package train

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/aigc-go/aigc/models"
)

// progress shows a run's advance: a bar on a terminal, one line per epoch otherwise.
type progress struct {
	out   io.Writer
	bar   bool // draw a live bar (stdout is a terminal and not --quiet)
	quiet bool
	unit  string // what the rate counts: samples, or tokens
	cur   *progressbar.ProgressBar
}

func (p *progress) startEpoch(epoch, epochs, start, batches int) {
	if !p.bar {
		return
	}
	p.cur = progressbar.NewOptions(batches,
		progressbar.OptionSetWriter(p.out),
		progressbar.OptionSetDescription(fmt.Sprintf("epoch %d/%d", epoch+1, epochs)),
		progressbar.OptionSetWidth(24),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	p.cur.Set(start)
}

func (p *progress) step(epoch, epochs, batch int, ms models.Metrics, rate float64) {
	if p.cur == nil {
		return
	}
	p.cur.Describe(fmt.Sprintf("epoch %d/%d %s %s %s/s", epoch+1, epochs, ms, thousands(rate), p.unit))
	p.cur.Set(batch + 1)
}

// finish clears a bar left on the screen, so that what is printed next starts a line.
func (p *progress) finish() {
	if p.cur != nil {
		p.cur.Clear()
		p.cur = nil
	}
}

// line prints a line that stays (an epoch summary), clearing the bar first.
func (p *progress) line(format string, a ...any) {
	p.finish()
	if !p.quiet {
		fmt.Fprintf(p.out, format+"\n", a...)
	}
}

// thousands renders a rate as an integer with thousands separators.
func thousands(v float64) string {
	s := fmt.Sprintf("%d", int64(v+0.5))
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
