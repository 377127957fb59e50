package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sort"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/dist"
	"github.com/aigc-go/aigc/graph"
	"github.com/aigc-go/aigc/graph/cpu"
	"github.com/aigc-go/aigc/graph/exec"
	"github.com/aigc-go/aigc/internal/rng"
	"github.com/aigc-go/aigc/models"
	"github.com/aigc-go/aigc/train"
)

type benchOptions struct {
	*globalOptions
	Model   string
	Config  configFlags
	Data    string
	Steps   int
	Warmup  int
	JSON    bool
	Profile bool
}

func newBenchCmd(g *globalOptions) *cobra.Command {
	o := &benchOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "bench MODEL",
		Short: "Time training steps: ms/step, steps/s, samples/s and achieved GFLOP/s",
		Long: "bench builds MODEL from its config, runs warm-up steps, then times training steps on\n" +
			"real batches. GFLOP/s counts the matrix products of a step (forward and backward).",
		Example: "  aigc bench vae\n  aigc bench vae --steps 200 --threads 1 --json",
		Args:    oneModel,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Model = args[0]
			return runBench(cmd.Context(), o)
		},
	}
	o.Config.bind(cmd)
	f := cmd.Flags()
	f.StringVar(&o.Data, "data", "", "image folder or downloaded set name (default: the embedded MNIST)")
	f.IntVar(&o.Steps, "steps", 100, "timed training steps")
	f.IntVar(&o.Warmup, "warmup", 10, "untimed steps first")
	f.BoolVar(&o.JSON, "json", false, "print the results as JSON")
	f.BoolVar(&o.Profile, "profile", false, "also time every instruction and print the time of each op kind")
	return cmd
}

// benchReport is what bench prints.
type benchReport struct {
	Model        string  `json:"model"`
	Device       string  `json:"device"`
	Threads      int     `json:"threads"`
	BLAS         string  `json:"blas"`
	Backend      string  `json:"backend"`
	BatchSize    int     `json:"batch_size"`
	Steps        int     `json:"steps"`
	MsPerStep    float64 `json:"ms_per_step"`
	StepsPerS    float64 `json:"steps_per_s"`
	SamplesPerS  float64 `json:"samples_per_s"`
	Processes    int     `json:"processes"`              // data-parallel ranks (1 alone); batch_size and rates are over all
	CommShare    float64 `json:"comm_share,omitempty"`   // share of the time in collectives, on rank 0
	TokensPerS   float64 `json:"tokens_per_s,omitempty"` // language models: samples × block_size
	FLOPsPerStep int64   `json:"flops_per_step"`
	GFLOPS       float64 `json:"gflops"`
	SgemmGFLOPS  float64 `json:"sgemm_gflops"` // the machine's float32 product rate, measured first
	SIMD         string  `json:"simd,omitempty"`
	PeakRSS      int64   `json:"peak_rss_bytes,omitempty"`
}

func runBench(ctx context.Context, o *benchOptions) error {
	if o.Steps < 1 || o.Warmup < 0 {
		return usageError{fmt.Errorf("--steps must be >= 1 and --warmup >= 0 (got %d, %d)", o.Steps, o.Warmup)}
	}
	fam, cfg, err := o.Config.load(o.Model)
	if err != nil {
		return err
	}
	data, err := loadData(fam, cfg, o.Data, o.Seed, o.shard())
	if err != nil {
		return err
	}
	dev, err := o.chooseDevice()
	if err != nil {
		return err
	}
	sgemm := cpu.SgemmRate(200 * time.Millisecond)
	r := rng.New(o.Seed)
	m, err := fam.Build(cfg, data.Env, r)
	if err != nil {
		return err
	}
	defer m.Close()
	ema := train.Average(m, cfg.TrainConfig()) // a training step includes the averaging the config asks for

	k := cfg.TrainConfig().GradAccumSteps
	if err := steps(ctx, m, ema, data.Train, r, o.Warmup, k); err != nil {
		return err
	}
	exec.Profile(o.Profile)
	start, comm := time.Now(), dist.Spent()
	if err := steps(ctx, m, ema, data.Train, r, o.Steps, k); err != nil {
		return err
	}
	elapsed := time.Since(start).Seconds()
	kinds := exec.Profile(false)

	world := dist.World().Size()
	bs := cfg.TrainConfig().BatchSize * k * world // the rows of a step, over every process
	rep := benchReport{
		Model: fam.Name, Device: string(dev), Threads: runtime.GOMAXPROCS(0), BLAS: graph.BLAS(),
		Backend: graph.BackendName(), BatchSize: bs, Steps: o.Steps, Processes: world,
		MsPerStep:    1000 * elapsed / float64(o.Steps),
		StepsPerS:    float64(o.Steps) / elapsed,
		SamplesPerS:  float64(o.Steps*bs) / elapsed,
		FLOPsPerStep: m.StepFLOPs() * int64(k*world),
		SgemmGFLOPS:  sgemm,
		SIMD:         cpu.SIMD(),
		PeakRSS:      peakRSS(),
	}
	if data.PerRow > 1 {
		rep.TokensPerS = rep.SamplesPerS * float64(data.PerRow)
	}
	rep.GFLOPS = float64(rep.FLOPsPerStep) * rep.StepsPerS / 1e9
	if world > 1 {
		rep.CommShare = (dist.Spent() - comm).Seconds() / elapsed
	}
	if o.JSON {
		return printJSON(o.Out, rep)
	}
	fmt.Fprintf(o.Out, "%s: batch %d, %d steps after %d warm-up, %s with %d threads (%s, %s, %s kernels)\n",
		rep.Model, bs, rep.Steps, o.Warmup, rep.Device, rep.Threads, rep.BLAS, rep.Backend, kernelsName(rep.SIMD))
	if world > 1 {
		fmt.Fprintf(o.Out, "  data-parallel over %d processes (batch %d each, %d threads each): %.1f%% of a step in collectives (gradient sums, waiting for the slowest rank)\n",
			world, bs/world, rep.Threads, 100*rep.CommShare)
	}
	rate := fmt.Sprintf("%.0f samples/s", rep.SamplesPerS)
	if rep.TokensPerS > 0 {
		rate = fmt.Sprintf("%.0f tokens/s", rep.TokensPerS)
	}
	fmt.Fprintf(o.Out, "  %.2f ms/step  %.1f steps/s  %s  %.1f GFLOP/s (%.3f GFLOP/step) of the machine's %.0f GFLOP/s sgemm\n",
		rep.MsPerStep, rep.StepsPerS, rate, rep.GFLOPS, float64(rep.FLOPsPerStep)/1e9, rep.SgemmGFLOPS)
	if o.Profile {
		printProfile(o.Out, kinds, o.Steps, elapsed)
	}
	return nil
}

// kernelsName says which CPU kernels ran: the vectorised ones and their instruction set,
// or the reference ones.
func kernelsName(simd string) string {
	if simd == "" {
		return "reference"
	}
	return simd
}

// peakRSS is the process's peak resident memory so far, in bytes (0 where unknown).
func peakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024 // kilobytes on Linux
}

// printProfile lists the time of each op kind per step, largest first, and what the
// instructions leave to the host (feeding batches, reading results).
func printProfile(w io.Writer, kinds map[string]time.Duration, steps int, elapsed float64) {
	names := make([]string, 0, len(kinds))
	var total time.Duration
	for k, d := range kinds {
		names = append(names, k)
		total += d
	}
	sort.Slice(names, func(i, j int) bool { return kinds[names[i]] > kinds[names[j]] })
	perStep := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(steps) }
	fmt.Fprintf(w, "  %-22s %9s %6s\n", "op kind", "ms/step", "share")
	for _, k := range names {
		fmt.Fprintf(w, "  %-22s %9.3f %5.1f%%\n", k, perStep(kinds[k]), 100*kinds[k].Seconds()/elapsed)
	}
	host := elapsed - total.Seconds()
	fmt.Fprintf(w, "  %-22s %9.3f %5.1f%%\n", "(outside instructions)", host*1000/float64(steps), 100*host/elapsed)
}

// steps runs n training steps of k micro-batches each, crossing epochs as needed,
// updating ema when not nil.
func steps(ctx context.Context, m models.Model, ema *graph.EMA, s datasets.Stream, r *rng.RNG, n, k int) error {
	for epoch := 0; n > 0; epoch++ {
		sctx, cancel := context.WithCancel(ctx)
		for bs := range datasets.Steps(s.Epoch(sctx, epoch, 0), k) {
			_, err := m.TrainStep(bs, r)
			for _, b := range bs {
				b.Release()
			}
			if err != nil {
				cancel()
				return err
			}
			if ema != nil {
				ema.Update()
			}
			if n--; n == 0 {
				break
			}
		}
		cancel()
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return nil
}
