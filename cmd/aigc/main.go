// Command aigc trains, samples, evaluates and benchmarks generative models.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aigc-go/aigc/dist"
)

func main() { os.Exit(process(os.Args[1:])) }

// process runs aigc as a process, with its signals, and returns its exit status.
func process(args []string) int {
	// Ctrl-C and SIGTERM cancel the context: training finishes its step, saves and exits 130.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go deadRankWatch(ctx)
	return execute(ctx, args, os.Stdout, os.Stderr)
}

// deadRankWatch ends a data-parallel rank that is told to stop (mpirun sends SIGTERM when
// another rank dies) while it waits in a collective that no longer ends: the rank it
// waits for is gone, and mpirun's SIGKILL would follow a second later without a word.
// The checkpoint on disk is whole: saves are atomic.
func deadRankWatch(ctx context.Context) {
	<-ctx.Done()
	for range 50 {
		if what, ok := dist.Waiting(500 * time.Millisecond); ok && dist.World().Size() > 1 {
			fmt.Fprintf(os.Stderr, "aigc: rank %d: stopped while waiting for the other ranks in %s: a rank has stopped (mpirun names it); the run's latest checkpoint is intact, and the same command resumes it\n",
				dist.World().Rank(), what)
			os.Exit(1)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
