package datasets

import (
	"context"
	"errors"
	"fmt"

	"github.com/aigc-go/aigc/internal/rng"
)

// shuffleStream offsets the RNG stream of an epoch's shuffle (stream = offset + epoch),
// keeping it apart from the streams other parts of aigc derive from the same seed.
const shuffleStream = 0x5348_0000_0000

// ImageStreamOptions configures an ImageStream.
type ImageStreamOptions struct {
	BatchSize int
	// Shuffle selects training mode: each epoch visits the examples in a fresh
	// permutation determined by (Seed, epoch) alone. Without it (evaluation) they are
	// visited in order.
	Shuffle bool
	Seed    uint64
	// DropLast drops the examples left over after the last full batch (a different
	// remainder each epoch when shuffling), like PyTorch's drop_last=True. Without it the
	// last batch is zero-padded and its Valid counts the real rows, so every example is
	// used once per epoch.
	DropLast bool
	// Lo and Hi are the range pixels are mapped into, linearly from 0..255. Both zero
	// means [0, 1].
	Lo, Hi float32
	// Prefetch is how many batches are prepared ahead of the consumer; 0 means 2.
	Prefetch int
	// Shard, in a data-parallel run, makes each batch this process's part of a global
	// batch of Ranks × BatchSize images.
	Shard Shard
}

// ImageStream streams minibatches of images. Every batch has BatchSize rows, so models
// build fixed-shape graphs. In training mode (Shuffle) each epoch visits the examples in
// its own permutation; in evaluation mode, in order.
//
// The last partial batch: with DropLast its examples are skipped for the epoch and
// BatchesPerEpoch is N / BatchSize. Otherwise (aigc's choice for training and
// evaluation alike, as PyTorch's DataLoader) BatchesPerEpoch is ceil(N / BatchSize) and
// the last batch is zero-padded: its Valid counts the real rows, and models weight their
// losses so that padding rows count for nothing.
type ImageStream struct {
	im       *Images
	opts     ImageStreamOptions
	features int
	batches  int
	scale    [256]float32 // value of each pixel byte in the stream's range
	pool     *batchPool
}

var _ Stream = (*ImageStream)(nil)

// NewImageStream returns a stream over im. im must not change while the stream is used.
func NewImageStream(im *Images, opts ImageStreamOptions) (*ImageStream, error) {
	if im == nil {
		return nil, errors.New("image stream: no images")
	}
	if im.N <= 0 || im.H <= 0 || im.W <= 0 || len(im.Pixels) != im.N*im.H*im.W {
		return nil, fmt.Errorf("%s: inconsistent image set: %d images of %dx%d but %d pixels",
			im.Source, im.N, im.H, im.W, len(im.Pixels))
	}
	if im.Labels != nil && len(im.Labels) != im.N {
		return nil, fmt.Errorf("%s: %d labels for %d images", im.Source, len(im.Labels), im.N)
	}
	if opts.BatchSize <= 0 {
		return nil, fmt.Errorf("%s: batch size must be positive, got %d", im.Source, opts.BatchSize)
	}
	global := opts.BatchSize * opts.Shard.ranks()
	if (opts.DropLast || opts.Shuffle) && global > im.N {
		// Training on it would pad every batch with rows that count for nothing.
		if opts.Shard.ranks() > 1 {
			return nil, fmt.Errorf("%s: a global batch of %d (batch_size=%d on each of %d processes) is larger than its %d training images",
				im.Source, global, opts.BatchSize, opts.Shard.ranks(), im.N)
		}
		return nil, fmt.Errorf("%s: batch_size=%d is larger than its %d training images: set batch_size to %d or less",
			im.Source, opts.BatchSize, im.N, im.N)
	}
	if opts.Lo == 0 && opts.Hi == 0 {
		opts.Hi = 1
	}
	if !(opts.Lo < opts.Hi) { // also rejects NaN
		return nil, fmt.Errorf("%s: pixel range [%g, %g] is empty; want Lo < Hi", im.Source, opts.Lo, opts.Hi)
	}
	if opts.Prefetch < 0 {
		return nil, fmt.Errorf("%s: prefetch must not be negative, got %d", im.Source, opts.Prefetch)
	}
	if opts.Prefetch == 0 {
		opts.Prefetch = 2
	}

	s := &ImageStream{im: im, opts: opts, features: im.H * im.W}
	if opts.DropLast {
		s.batches = im.N / global
	} else {
		s.batches = (im.N + global - 1) / global
	}
	lo, hi := float64(opts.Lo), float64(opts.Hi)
	for p := range s.scale {
		s.scale[p] = float32(lo + (hi-lo)*float64(p)/255)
	}
	s.scale[0], s.scale[255] = opts.Lo, opts.Hi // exact ends whatever the rounding
	s.pool = newBatchPool(opts.BatchSize, s.features, im.Labels != nil, opts.Prefetch)
	return s, nil
}

// BatchSize returns the number of rows of every batch.
func (s *ImageStream) BatchSize() int { return s.opts.BatchSize }

// BatchesPerEpoch returns the number of batches in an epoch.
func (s *ImageStream) BatchesPerEpoch() int { return s.batches }

// Features returns the length of one row of X: the pixels of one image.
func (s *ImageStream) Features() int { return s.features }

// Images returns the set the stream reads.
func (s *ImageStream) Images() *Images { return s.im }

// Epoch streams the batches of an epoch from batch start on. Because a training epoch's
// order depends only on (Seed, epoch), resuming at start gives exactly the batches an
// uninterrupted run would have produced. A start at or past BatchesPerEpoch yields an
// empty epoch; a negative epoch or start is a programming error and panics.
func (s *ImageStream) Epoch(ctx context.Context, epoch, start int) <-chan *Batch {
	if epoch < 0 || start < 0 {
		panic(fmt.Sprintf("datasets: ImageStream.Epoch(epoch=%d, start=%d): negative argument", epoch, start))
	}
	ch := make(chan *Batch, s.opts.Prefetch)
	go func() {
		var order []int // nil means in order
		if s.opts.Shuffle && start < s.batches {
			order = rng.Stream(s.opts.Seed, shuffleStream+uint64(epoch)).Perm(s.im.N)
		}
		produce(ctx, s.pool, ch, start, s.batches, func(b *Batch, i int) {
			s.fill(b, epoch, i, order)
		})
	}()
	return ch
}

// fill writes batch index of an epoch into b, zeroing the rows past the end of the set.
func (s *ImageStream) fill(b *Batch, epoch, index int, order []int) {
	b.Epoch, b.Index = epoch, index
	rows, f := b.Rows, s.features
	first := s.opts.Shard.first(index, rows)
	b.Valid = max(0, min(rows, s.im.N-first)) // a rank's part of the last batch may be empty
	for r := range b.Valid {
		k := first + r
		if order != nil {
			k = order[k]
		}
		dst := b.X[r*f : (r+1)*f]
		for j, p := range s.im.Pixels[k*f : (k+1)*f] {
			dst[j] = s.scale[p]
		}
		if b.Labels != nil {
			b.Labels[r] = int32(s.im.Labels[k])
		}
	}
	// Buffers are reused, so padding rows must be cleared every time.
	clear(b.X[b.Valid*f:])
	if b.Labels != nil {
		clear(b.Labels[b.Valid:])
	}
}
