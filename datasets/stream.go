package datasets

import (
	"context"
	"iter"
	"sync"
)

// Batch is one minibatch. Rows is the fixed batch size; Valid <= Rows counts the rows
// holding real examples (less than Rows only in the last evaluation batch, whose remaining
// rows are zero).
type Batch struct {
	Epoch, Index int // epoch number and batch number within it
	Rows, Valid  int
	X            []float32 // Rows × Features, images flattened row-major, pixels scaled into the stream's range
	Labels       []int32   // Rows (zero for padding rows); nil when the set has no labels
	// Token batches (TokenStream) fill these instead of X: row r's window of Window+1
	// tokens, Tokens[r*(Window+1):(r+1)*(Window+1)]; its inputs are the first Window and
	// its targets the last Window. Weights (Rows × Window) is 1 for each real target and 0
	// for padding, so losses average over Weights' sum.
	Tokens  []int32
	Weights []float32
	// Pairs holds a sequence-to-sequence batch (PairStream); the fields above are unused.
	Pairs   *PairBatch
	release func() // set while the batch is out; cleared by Release
	recycle func() // made once per buffer, so handing a batch out allocates nothing
}

// Items counts what a batch trains on: its real rows, or for a token batch its real
// targets (tokens).
func (b *Batch) Items() int {
	if b.Pairs != nil {
		return b.Pairs.Valid
	}
	if b.Tokens == nil {
		return b.Valid
	}
	n := 0
	for _, w := range b.Weights {
		if w != 0 {
			n++
		}
	}
	return n
}

// Release hands the batch's buffers back to its stream for reuse. Call it once: the
// stream may hand the same buffers out again at once, so afterwards the batch must not be
// touched at all, not even to release it again. Releasing a Batch not made by a stream
// does nothing.
func (b *Batch) Release() {
	if f := b.release; f != nil {
		b.release = nil
		f()
	}
}

// Shard is one process's part of every batch in a data-parallel run of Ranks processes:
// the run's global batch is Ranks of the stream's batches, in the order one process with
// the global batch would see its rows, and rank Rank gets the Rank-th. The zero Shard is
// the whole batch (one process).
type Shard struct{ Rank, Ranks int }

// ranks is how many processes share each global batch.
func (s Shard) ranks() int { return s.Size() }

// Size is how many processes share each global batch (1 for the zero Shard).
func (s Shard) Size() int { return max(1, s.Ranks) }

// first is the row of a global batch of rows·ranks where this rank's part begins.
func (s Shard) first(index, rows int) int { return index*rows*s.ranks() + s.Rank*rows }

// Stream produces the minibatches of a data set, epoch by epoch.
type Stream interface {
	BatchSize() int
	BatchesPerEpoch() int
	// Epoch streams the batches of one epoch starting at batch `start` (to resume
	// mid-epoch); the channel closes at the end of the epoch or when ctx is cancelled. The
	// consumer calls Release on each batch when done.
	Epoch(ctx context.Context, epoch, start int) <-chan *Batch
}

// batchPool is the free list behind Release: buffers go round between the producer and
// the consumer instead of being allocated per batch.
type batchPool struct {
	rows, features int
	labels         bool
	window         int // token batches: targets per row (Tokens hold one more per row)
	pairS, pairT   int // pair batches: source and decoder positions per row
	keep           int // free buffers kept at most; the rest go to the garbage collector

	mu   sync.Mutex
	free []*Batch
}

func newBatchPool(rows, features int, labels bool, prefetch int) *batchPool {
	// In flight at once: prefetch batches in the channel, one being filled, one or two
	// with the consumer. Keeping a few more avoids allocating in steady state without
	// letting a consumer that hoarded batches pin them forever.
	keep := prefetch + 4
	return &batchPool{rows: rows, features: features, labels: labels, keep: keep,
		free: make([]*Batch, 0, keep)}
}

// get returns a batch ready to be filled and handed out.
func (p *batchPool) get() *Batch {
	p.mu.Lock()
	var b *Batch
	if n := len(p.free); n > 0 {
		b = p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
	}
	p.mu.Unlock()
	if b == nil {
		b = &Batch{Rows: p.rows}
		if p.features > 0 {
			b.X = make([]float32, p.rows*p.features)
		}
		if p.labels {
			b.Labels = make([]int32, p.rows)
		}
		if p.window > 0 {
			b.Tokens = make([]int32, p.rows*(p.window+1))
			b.Weights = make([]float32, p.rows*p.window)
		}
		if p.pairS > 0 {
			b.Pairs = newPairBatch(p.rows, p.pairS, p.pairT)
		}
		b.recycle = func() { p.put(b) }
	}
	b.release = b.recycle
	return b
}

// put returns a batch to the free list.
func (p *batchPool) put(b *Batch) {
	p.mu.Lock()
	if len(p.free) < p.keep {
		p.free = append(p.free, b)
	}
	p.mu.Unlock()
}

// produce runs one epoch's producer: fill(b, i) fills batch i, for i from start up to
// batches. It closes ch when done or when ctx is cancelled, and never blocks past a
// cancellation, so an abandoned epoch leaves no goroutine behind.
func produce(ctx context.Context, pool *batchPool, ch chan<- *Batch, start, batches int, fill func(b *Batch, i int)) {
	defer close(ch)
	for i := start; i < batches; i++ {
		// Checked before filling so a cancelled epoch stops promptly even while the
		// channel has room.
		if ctx.Err() != nil {
			return
		}
		b := pool.get()
		fill(b, i)
		select {
		case ch <- b:
		case <-ctx.Done():
			pool.put(b)
			return
		}
	}
}

// Steps groups the batches of an epoch k at a time, the micro-batches of one optimiser
// step (gradient accumulation; k = 1 is a batch a step). The last group of an epoch whose
// batches k does not divide is smaller, as the last batch of one large batch's epoch is
// (StepsPerEpoch). The slice is reused from step to step; the consumer releases each
// batch.
func Steps(batches <-chan *Batch, k int) iter.Seq[[]*Batch] {
	return func(yield func([]*Batch) bool) {
		group := make([]*Batch, 0, k)
		for b := range batches {
			group = append(group, b)
			if len(group) < k {
				continue
			}
			ok := yield(group)
			group = group[:0]
			if !ok {
				return
			}
		}
		if len(group) > 0 {
			yield(group)
		}
	}
}

// StepsPerEpoch is the optimiser steps of an epoch of s at k batches a step.
func StepsPerEpoch(s Stream, k int) int { return (s.BatchesPerEpoch() + k - 1) / k }
