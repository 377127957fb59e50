package graph

import (
	"runtime"
	"sync"
)

// parallelFor runs f over [0, n) split into one contiguous range per thread, when there
// are at least minPerThread items for each; otherwise it runs f(0, n) itself. Every item
// is computed by exactly one call with no shared accumulator, so results do not depend on
// the thread count.
func parallelFor(n, minPerThread int, f func(lo, hi int)) {
	threads := min(runtime.GOMAXPROCS(0), n/max(minPerThread, 1))
	if threads <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	chunk := (n + threads - 1) / threads
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}
