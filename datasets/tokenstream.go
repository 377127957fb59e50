package datasets

import (
	"context"
	"fmt"

	"github.com/aigc-go/aigc/internal/rng"
)

// windowStream offsets the RNG streams of token windows (stream = offset + epoch).
const windowStream = 0x544f_0000_0000

// TokenOrder is how a TokenStream lays windows out.
type TokenOrder int

const (
	// RandomWindows: every row of every batch is a window at a random offset, drawn from
	// (Seed, epoch) alone (nanoGPT's get_batch). For training.
	RandomWindows TokenOrder = iota
	// ContiguousRows: the tokens are cut into BatchSize equal stripes and row r of batch i
	// continues row r of batch i−1 (the classic language-model batching), so a recurrent
	// model can carry its state from one batch to the next. Each epoch starts its stripes
	// at a random shift below Window. For training.
	ContiguousRows
	// Sweep: consecutive windows that cover every target once, in order, the last one
	// zero-padded with zero weights. For evaluation.
	Sweep
)

// TokenStreamOptions configures a TokenStream.
type TokenStreamOptions struct {
	BatchSize int // rows per batch
	Window    int // targets per row (the model's context length)
	Order     TokenOrder
	Seed      uint64
	// BatchesPerEpoch sets the epoch length for RandomWindows (0: enough batches to draw
	// as many targets as the split holds). The other orders are fixed by the data.
	BatchesPerEpoch int
	Prefetch        int // batches prepared ahead; 0 means 2
	// CharsPerToken is how many characters the tokens stand for on average (1 for the
	// char tokeniser), for reporting bits per character; 0 means 1.
	CharsPerToken float64
	// Shard, in a data-parallel run, makes each batch of RandomWindows this process's part
	// of a global batch of Shard.Ranks × BatchSize windows.
	Shard Shard
}

// TokenStream streams batches of token windows: Batch.Tokens and Batch.Weights.
type TokenStream struct {
	ids     []int32
	source  string
	opts    TokenStreamOptions
	batches int
	stripe  int // ContiguousRows: tokens per stripe
	pool    *batchPool
}

var _ Stream = (*TokenStream)(nil)

// NewTokenStream returns a stream over ids, which must not change while it is used.
// source names the split in errors ("tinyshakespeare (validation)"). A split too short for
// one window of Window+1 tokens (one per row, for ContiguousRows) is an error.
func NewTokenStream(ids []int32, source string, opts TokenStreamOptions) (*TokenStream, error) {
	b, t := opts.BatchSize, opts.Window
	if b <= 0 || t <= 0 {
		return nil, fmt.Errorf("%s: batch size and window must be positive, got %d and %d", source, b, t)
	}
	if opts.Prefetch < 0 || opts.BatchesPerEpoch < 0 {
		return nil, fmt.Errorf("%s: prefetch and batches per epoch must not be negative", source)
	}
	if opts.Prefetch == 0 {
		opts.Prefetch = 2
	}
	if opts.CharsPerToken == 0 {
		opts.CharsPerToken = 1
	}
	if len(ids) < t+1 {
		return nil, fmt.Errorf("%s: %d tokens are too few for one window of %d (block size + 1)", source, len(ids), t+1)
	}
	s := &TokenStream{ids: ids, source: source, opts: opts}
	if opts.Shard.ranks() > 1 && opts.Order != RandomWindows {
		return nil, fmt.Errorf("%s: data-parallel training shards random windows only (set carry_state false)", source)
	}
	switch opts.Order {
	case RandomWindows:
		s.batches = opts.BatchesPerEpoch
		if s.batches == 0 {
			s.batches = max(1, len(ids)/(b*opts.Shard.ranks()*t))
		}
	case ContiguousRows:
		// The shift below Window and the extra target token must fit in every stripe.
		s.stripe = len(ids) / b
		s.batches = (s.stripe - t) / t
		if s.batches < 1 {
			return nil, fmt.Errorf("%s: %d tokens are too few for %d rows of %d (need %d)",
				source, len(ids), b, 2*t, b*2*t)
		}
	case Sweep:
		windows := (len(ids) - 1 + t - 1) / t
		s.batches = (windows + b - 1) / b
	default:
		return nil, fmt.Errorf("%s: unknown token order %d", source, opts.Order)
	}
	s.pool = newBatchPool(b, 0, false, opts.Prefetch)
	s.pool.window = t
	return s, nil
}

func (s *TokenStream) BatchSize() int       { return s.opts.BatchSize }
func (s *TokenStream) BatchesPerEpoch() int { return s.batches }
func (s *TokenStream) Window() int          { return s.opts.Window }
func (s *TokenStream) Order() TokenOrder    { return s.opts.Order }

// CharsPerToken is the average number of characters a token stands for.
func (s *TokenStream) CharsPerToken() float64 { return s.opts.CharsPerToken }

// Targets is the number of real targets in an epoch of a Sweep (every token but the first).
func (s *TokenStream) Targets() int { return len(s.ids) - 1 }

// Epoch streams the batches of an epoch from batch start on; the same (Seed, epoch,
// start) always gives the same batches, so a resumed run sees what an uninterrupted one
// would have.
func (s *TokenStream) Epoch(ctx context.Context, epoch, start int) <-chan *Batch {
	if epoch < 0 || start < 0 {
		panic(fmt.Sprintf("datasets: TokenStream.Epoch(epoch=%d, start=%d): negative argument", epoch, start))
	}
	ch := make(chan *Batch, s.opts.Prefetch)
	go func() {
		r := rng.Stream(s.opts.Seed, windowStream+uint64(epoch))
		b, t := s.opts.BatchSize, s.opts.Window
		shift := 0
		ranks := s.opts.Shard.ranks()
		switch s.opts.Order {
		case RandomWindows:
			for range start * b * ranks { // the offsets the skipped batches would have used
				r.IntN(len(s.ids) - t)
			}
		case ContiguousRows:
			shift = r.IntN(t)
		}
		produce(ctx, s.pool, ch, start, s.batches, func(batch *Batch, i int) {
			batch.Epoch, batch.Index = epoch, i
			switch s.opts.Order {
			case RandomWindows:
				batch.Valid = b
				for part := range ranks { // every rank draws the global batch's offsets
					for row := range b {
						if off := r.IntN(len(s.ids) - t); part == s.opts.Shard.Rank {
							s.copyWindow(batch, row, off)
						}
					}
				}
			case ContiguousRows:
				batch.Valid = b
				for row := range b {
					s.copyWindow(batch, row, row*s.stripe+shift+i*t)
				}
			case Sweep:
				s.fillSweep(batch, i)
			}
		})
	}()
	return ch
}

// copyWindow puts the Window+1 tokens from off into a row, all targets real.
func (s *TokenStream) copyWindow(b *Batch, row, off int) {
	t := s.opts.Window
	copy(b.Tokens[row*(t+1):(row+1)*(t+1)], s.ids[off:off+t+1])
	w := b.Weights[row*t : (row+1)*t]
	for j := range w {
		w[j] = 1
	}
}

// fillSweep fills batch i of a sweep: window k starts at token k·Window.
func (s *TokenStream) fillSweep(b *Batch, i int) {
	t := s.opts.Window
	clear(b.Tokens)
	clear(b.Weights)
	b.Valid = 0
	for row := range b.Rows {
		off := (i*b.Rows + row) * t
		n := min(t, len(s.ids)-1-off) // real targets in this window
		if n <= 0 {
			break
		}
		copy(b.Tokens[row*(t+1):], s.ids[off:off+n+1])
		w := b.Weights[row*t : row*t+n]
		for j := range w {
			w[j] = 1
		}
		b.Valid++
	}
}
