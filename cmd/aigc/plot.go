package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/internal/curves"
	"github.com/aigc-go/aigc/train"
)

type plotOptions struct {
	*globalOptions
	Runs   []string
	Out    string
	Metric string
}

func newPlotCmd(g *globalOptions) *cobra.Command {
	o := &plotOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "plot RUN...",
		Short: "Draw the training and evaluation loss of runs against the step",
		Long: "plot reads each run directory's metrics.jsonl and draws its training loss (a line) and\n" +
			"evaluation loss (dashed, a mark per evaluation) against the optimiser step, one colour\n" +
			"per run, so runs can be compared without Python. The loss is each model's first metric\n" +
			"(a GAN's evaluation is its FID, drawn in a chart of its own); --metric picks another.",
		Example: "  aigc plot runs/vae\n  aigc plot runs/a runs/b -o loss.png\n  aigc plot runs/lstm --metric bpc -o bpc.svg",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("plot takes one or more RUN directories (see aigc plot --help)")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Runs = args
			return runPlot(o)
		},
	}
	cmd.Flags().StringVarP(&o.Out, "out", "o", "loss.png", "output file: .png, .svg or .pdf")
	cmd.Flags().StringVar(&o.Metric, "metric", "", "the metric to draw (default: each model's loss)")
	return cmd
}

// PlotOutput is what plot writes.
var plotOutput = train.Output{What: "plots", Extensions: []string{".png", ".svg", ".pdf"}}

func runPlot(o *plotOptions) error {
	format, err := train.CheckOutput(o.Out, plotOutput)
	if err != nil {
		return usageError{err}
	}
	charts, err := lossCharts(o.Runs, o.Metric)
	if err != nil {
		return err
	}
	if err := checkpoints.WriteAtomic(o.Out, func(w io.Writer) error { return curves.Write(w, format, charts) }); err != nil {
		return err
	}
	fmt.Fprintf(o.globalOptions.Out, "wrote %s\n", o.Out)
	return nil
}

// lossCharts makes the charts of runs: one of training and evaluation curves, or, where
// the evaluation measures something else than the training loss (a GAN's FID), a chart
// of each.
func lossCharts(runs []string, metric string) ([]curves.Chart, error) {
	var trainC, evalC []curves.Curve
	var trainNames, evalNames []string
	for i, run := range runs {
		lines, err := train.ReadMetrics(filepath.Join(run, train.MetricsFile))
		if err != nil {
			return nil, fmt.Errorf("%s: no metrics to draw (%w): give run directories", run, err)
		}
		label := filepath.Clean(run)
		tc, tn := curve(lines, "train", metric, label+" train", i)
		ec, en := curve(lines, "eval", metric, label+" eval", i)
		if len(tc.Steps) == 0 && len(ec.Steps) == 0 {
			if metric != "" {
				return nil, fmt.Errorf("%s: no metric %q in its metrics.jsonl", run, metric)
			}
			return nil, fmt.Errorf("%s: its metrics.jsonl has no steps yet", run)
		}
		if len(tc.Steps) > 0 {
			trainC, trainNames = append(trainC, tc), appendNew(trainNames, tn)
		}
		if len(ec.Steps) > 0 {
			evalC, evalNames = append(evalC, ec), appendNew(evalNames, en)
		}
	}
	same := len(evalNames) == 0 || strings.Join(trainNames, " ") == strings.Join(evalNames, " ")
	if same {
		name := strings.Join(trainNames, ", ")
		return []curves.Chart{{Title: name + ": training and evaluation", YLabel: name, Curves: append(trainC, evalC...)}}, nil
	}
	var charts []curves.Chart
	if len(trainC) > 0 {
		name := strings.Join(trainNames, ", ")
		charts = append(charts, curves.Chart{Title: name + ": training", YLabel: name, Curves: trainC})
	}
	name := strings.Join(evalNames, ", ")
	return append(charts, curves.Chart{Title: name + ": evaluation", YLabel: name, Curves: evalC}), nil
}

// curve is the named metric (or the model's first) of the lines of one kind, and its name.
func curve(lines []train.Line, kind, metric, label string, run int) (curves.Curve, string) {
	c := curves.Curve{Label: label, Run: run, Eval: kind == "eval"}
	name := metric
	for _, l := range lines {
		if l.Kind != kind {
			continue
		}
		ms := l.Model()
		if metric == "" && len(ms) > 0 {
			ms = ms[:1]
		} else {
			ms = l.Values
		}
		for _, m := range ms {
			if metric == "" || m.Name == metric {
				c.Steps, c.Values, name = append(c.Steps, l.Step), append(c.Values, m.Value), m.Name
				break
			}
		}
	}
	return c, name
}

func appendNew(names []string, n string) []string {
	for _, m := range names {
		if m == n {
			return names
		}
	}
	return append(names, n)
}
