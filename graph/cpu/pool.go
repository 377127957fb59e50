package cpu

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// For runs body over [0, n) split into one contiguous range per thread, when each range
// has at least minPer items; otherwise it runs body(0, n) itself. Every item is computed
// by exactly one call and ranges share no accumulator, so results do not depend on the
// thread count. The calling goroutine runs the first range; long-lived workers run the
// others, so a prepared body runs without allocating.
//
// A training step is thousands of short parallel regions (a product split in two, an
// element-wise kernel over a few hundred kilobytes), so the workers spin for a while
// (spinFor) after their last range before they sleep: waking a sleeping thread takes
// tens of microseconds, on a virtual machine more, as long as the work itself.
func For(n, minPer int, body func(lo, hi int)) {
	threads, chunk := split(n, minPer)
	if threads <= 1 {
		body(0, n)
		return
	}
	poolOnce.Do(startWorkers)
	var posted [maxWorkers]int64 // per worker: the range count to wait for, or 0
	w := 0
	for lo := chunk; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		for ; w < len(workers); w++ {
			if seq, ok := workers[w].post(body, lo, hi); ok {
				posted[w] = seq
				break
			}
		}
		if w == len(workers) { // every worker busy (a For inside a For): run it here
			body(lo, hi)
			continue
		}
		w++
	}
	body(0, min(chunk, n))
	for i := range workers {
		if posted[i] != 0 {
			workers[i].wait(posted[i])
		}
	}
}

// Threads is the most threads For uses: GOMAXPROCS, but no more than the cores.
func Threads() int { return min(runtime.GOMAXPROCS(0), runtime.NumCPU(), maxWorkers+1) }

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

const maxWorkers = 63

// spinFor is how long an idle worker waits for its next range before it sleeps.
const spinFor = 200 * time.Microsecond

// A worker's states.
const (
	idle     int32 = iota // spinning, waiting for a range
	claimed               // a caller is writing its range
	posted                // a range to run
	sleeping              // blocked on wake
)

// worker runs the ranges callers post to it, one at a time.
type worker struct {
	state atomic.Int32
	done  atomic.Int64 // ranges finished
	seq   int64        // ranges posted (written under the claim)
	body  func(lo, hi int)
	lo    int
	hi    int
	wake  chan struct{}
	_     [64]byte // keep workers on separate cache lines
}

var (
	poolOnce sync.Once
	workers  []*worker
)

// startWorkers starts one worker per core beyond the caller's.
func startWorkers() {
	for range min(runtime.NumCPU()-1, maxWorkers) {
		w := &worker{wake: make(chan struct{}, 1)}
		workers = append(workers, w)
		go w.loop()
	}
}

// post gives w the range if it is free and returns the count to wait for.
func (w *worker) post(body func(lo, hi int), lo, hi int) (int64, bool) {
	for {
		switch s := w.state.Load(); s {
		case idle, sleeping:
			if !w.state.CompareAndSwap(s, claimed) {
				continue
			}
			w.body, w.lo, w.hi = body, lo, hi
			w.seq++
			seq := w.seq
			w.state.Store(posted)
			if s == sleeping {
				w.wake <- struct{}{}
			}
			return seq, true
		default: // running another caller's range
			return 0, false
		}
	}
}

// wait returns once w has finished range number seq.
func (w *worker) wait(seq int64) {
	for spins := 0; w.done.Load() < seq; spins++ {
		if spins&63 == 63 {
			runtime.Gosched()
		}
	}
}

func (w *worker) loop() {
	for {
		w.await()
		w.body(w.lo, w.hi)
		w.body = nil
		w.done.Add(1)
		w.state.Store(idle)
	}
}

// await returns when a range is posted: it spins for spinFor, then sleeps.
func (w *worker) await() {
	start := time.Now()
	for spins := 0; ; spins++ {
		if w.state.Load() == posted {
			return
		}
		if spins&63 == 63 {
			if time.Since(start) > spinFor && w.state.CompareAndSwap(idle, sleeping) {
				<-w.wake // the poster set the state to posted
				return
			}
			runtime.Gosched()
		}
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
