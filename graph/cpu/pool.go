package cpu

import (
	"os"
	"runtime"
	"sync"
)

// For runs body over [0, n) split into one contiguous range per thread, when each range
// has at least minPer items; otherwise it runs body(0, n) itself. Every item is computed
// by exactly one call and ranges share no accumulator, so results do not depend on the
// thread count. The calling goroutine runs the first range; long-lived workers run the
// others, so a prepared body runs without allocating.
func For(n, minPer int, body func(lo, hi int)) {
	threads, chunk := split(n, minPer)
	if threads <= 1 {
		body(0, n)
		return
	}
	workersOnce.Do(startWorkers)
	wg := waitGroups.Get().(*sync.WaitGroup)
	for lo := chunk; lo < n; lo += chunk {
		t := task{body: body, lo: lo, hi: min(lo+chunk, n), done: wg}
		wg.Add(1)
		select {
		case tasks <- t:
		default: // every worker busy (a For inside a For): run it here
			t.run()
		}
	}
	body(0, min(chunk, n))
	wg.Wait()
	waitGroups.Put(wg)
}

// Threads is the most threads For uses: GOMAXPROCS, but no more than the cores.
func Threads() int { return min(runtime.GOMAXPROCS(0), runtime.NumCPU()) }

// split returns how many ranges For makes of n items and the size of each but the last.
func split(n, minPer int) (threads, chunk int) {
	threads = min(Threads(), n/max(minPer, 1))
	if threads <= 1 {
		return 1, n
	}
	return threads, (n + threads - 1) / threads
}

// ChunkIndex returns which of For's ranges over (n, minPer) starts at lo: an index below
// Threads(), for kernels that give each range scratch memory of its own.
func ChunkIndex(n, minPer, lo int) int {
	_, chunk := split(n, minPer)
	return lo / max(chunk, 1)
}

// forAll returns the work of For(n, minPer, body), for kernels that prepare it once.
func forAll(n, minPer int, body func(lo, hi int)) func() {
	return func() { For(n, minPer, body) }
}

type task struct {
	body   func(lo, hi int)
	lo, hi int
	done   *sync.WaitGroup
}

func (t task) run() {
	t.body(t.lo, t.hi)
	t.done.Done()
}

var (
	tasks       = make(chan task, 64)
	workersOnce sync.Once
	waitGroups  = sync.Pool{New: func() any { return new(sync.WaitGroup) }}
)

// startWorkers starts one worker per core beyond the caller's.
func startWorkers() {
	for range runtime.NumCPU() - 1 {
		go func() {
			for t := range tasks {
				t.run()
			}
		}()
	}
}

// UseFast turns the fast kernels on or off (off: every kind runs its reference kernel)
// and returns the previous setting. Programs compiled afterwards see the change.
func UseFast(on bool) bool {
	prev := fastEnabled
	fastEnabled = on
	return prev
}

func init() {
	if os.Getenv("AIGC_CPU_KERNELS") == "reference" {
		fastEnabled = false
	}
}
