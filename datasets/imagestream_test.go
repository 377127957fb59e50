package datasets

import (
	"context"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
)

// indexedImages returns n images of h×w whose pixels all equal the image's index mod 256
// and whose label is the index mod 256, so a batch row tells which example it holds.
func indexedImages(n, h, w int) *Images {
	im := &Images{N: n, H: h, W: w, Pixels: make([]uint8, n*h*w), Labels: make([]uint8, n), Source: "test"}
	for k := range n {
		for j := range h * w {
			im.Pixels[k*h*w+j] = uint8(k)
		}
		im.Labels[k] = uint8(k)
	}
	return im
}

func newStream(t *testing.T, im *Images, opts ImageStreamOptions) *ImageStream {
	t.Helper()
	s, err := NewImageStream(im, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// collect runs one epoch and returns, per batch, the example each valid row holds
// (read from the label, which equals the index for sets under 256 examples), checking
// that every row agrees with its label and padding rows are zero.
func collect(t *testing.T, s *ImageStream, epoch, start int) [][]int {
	t.Helper()
	var out [][]int
	f := s.Features()
	next := start
	for b := range s.Epoch(context.Background(), epoch, start) {
		if b.Epoch != epoch || b.Index != next || b.Rows != s.BatchSize() || len(b.X) != b.Rows*f {
			t.Fatalf("batch epoch %d index %d rows %d len %d, want epoch %d index %d",
				b.Epoch, b.Index, b.Rows, len(b.X), epoch, next)
		}
		next++
		var rows []int
		for r := range b.Rows {
			want := float32(0)
			if r < b.Valid {
				rows = append(rows, int(b.Labels[r]))
				want = float32(b.Labels[r]) / 255
			} else if b.Labels[r] != 0 {
				t.Fatalf("batch %d padding row %d has label %d", b.Index, r, b.Labels[r])
			}
			for _, v := range b.X[r*f : (r+1)*f] {
				if v != want {
					t.Fatalf("batch %d row %d holds %v, want %v", b.Index, r, v, want)
				}
			}
		}
		out = append(out, rows)
		b.Release()
	}
	if next != max(start, s.BatchesPerEpoch()) {
		t.Fatalf("epoch ended after batch %d of %d", next, s.BatchesPerEpoch())
	}
	return out
}

func TestImageStreamEvaluation(t *testing.T) {
	s := newStream(t, indexedImages(10, 2, 3), ImageStreamOptions{BatchSize: 4})
	if s.BatchesPerEpoch() != 3 || s.Features() != 6 {
		t.Fatalf("%d batches of %d features", s.BatchesPerEpoch(), s.Features())
	}
	// Twice, so the padded batch reuses a buffer that held a full batch.
	for epoch := range 2 {
		got := collect(t, s, epoch, 0)
		want := [][]int{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}}
		if !slices.EqualFunc(got, want, slices.Equal) {
			t.Fatalf("epoch %d: %v, want %v", epoch, got, want)
		}
	}
}

func TestImageStreamEvaluationBatchLargerThanSet(t *testing.T) {
	s := newStream(t, indexedImages(3, 1, 1), ImageStreamOptions{BatchSize: 8})
	if got := collect(t, s, 0, 0); len(got) != 1 || !slices.Equal(got[0], []int{0, 1, 2}) {
		t.Fatalf("got %v", got)
	}
}

func TestImageStreamTraining(t *testing.T) {
	const n, size = 103, 10
	s := newStream(t, indexedImages(n, 2, 2), ImageStreamOptions{BatchSize: size, Shuffle: true, Seed: 7, DropLast: true})
	if s.BatchesPerEpoch() != n/size {
		t.Fatalf("%d batches", s.BatchesPerEpoch())
	}
	order := func(seed uint64, epoch int) []int {
		s := newStream(t, indexedImages(n, 2, 2), ImageStreamOptions{BatchSize: size, Shuffle: true, Seed: seed, DropLast: true})
		var all []int
		for _, rows := range collect(t, s, epoch, 0) {
			if len(rows) != size {
				t.Fatalf("training batch with %d valid rows", len(rows))
			}
			all = append(all, rows...)
		}
		return all
	}

	first := order(7, 0)
	seen := map[int]bool{}
	for _, k := range first {
		if seen[k] || k < 0 || k >= n {
			t.Fatalf("example %d repeated or out of range in %v", k, first)
		}
		seen[k] = true
	}
	if len(seen) != n/size*size {
		t.Fatalf("%d distinct examples, want %d", len(seen), n/size*size)
	}
	if slices.IsSorted(first) {
		t.Fatal("training order is not shuffled")
	}

	if !slices.Equal(order(7, 0), first) {
		t.Error("same seed and epoch gave a different order")
	}
	if slices.Equal(order(7, 1), first) {
		t.Error("epochs 0 and 1 have the same order")
	}
	if slices.Equal(order(8, 0), first) {
		t.Error("seeds 7 and 8 have the same order")
	}
}

// Without DropLast a shuffled epoch uses every example once; the last batch is padded.
func TestImageStreamTrainingKeepsLastBatch(t *testing.T) {
	const n, size = 103, 10
	s := newStream(t, indexedImages(n, 2, 2), ImageStreamOptions{BatchSize: size, Shuffle: true, Seed: 7})
	if s.BatchesPerEpoch() != 11 {
		t.Fatalf("%d batches, want 11", s.BatchesPerEpoch())
	}
	batches := collect(t, s, 2, 0)
	var all []int
	for i, rows := range batches {
		if want := min(size, n-i*size); len(rows) != want {
			t.Fatalf("batch %d has %d valid rows, want %d", i, len(rows), want)
		}
		all = append(all, rows...)
	}
	slices.Sort(all)
	for i, k := range all {
		if k != i {
			t.Fatalf("epoch is not a permutation of all %d examples: %v", n, all)
		}
	}
}

func TestImageStreamResume(t *testing.T) {
	im := indexedImages(50, 1, 2)
	for _, shuffle := range []bool{true, false} {
		s := newStream(t, im, ImageStreamOptions{BatchSize: 6, Shuffle: shuffle, Seed: 3})
		full := collect(t, s, 5, 0)
		for start := range s.BatchesPerEpoch() + 2 {
			tail := collect(t, s, 5, start)
			want := full[min(start, len(full)):]
			if !slices.EqualFunc(tail, want, slices.Equal) {
				t.Fatalf("shuffle=%v start %d: %v, want %v", shuffle, start, tail, want)
			}
		}
	}
}

func TestImageStreamWithoutLabels(t *testing.T) {
	im := indexedImages(5, 1, 1)
	im.Labels = nil
	s := newStream(t, im, ImageStreamOptions{BatchSize: 2})
	for b := range s.Epoch(context.Background(), 0, 0) {
		if b.Labels != nil {
			t.Fatal("labels for a set without labels")
		}
		b.Release()
	}
}

func TestImageStreamRange(t *testing.T) {
	im := &Images{N: 1, H: 1, W: 4, Pixels: []uint8{0, 51, 255, 128}, Source: "px"}
	for _, c := range []struct {
		lo, hi float32
		want   []float32
	}{
		{0, 0, []float32{0, 0.2, 1, 128.0 / 255}},
		{-1, 1, []float32{-1, -0.6, 1, 1.0 / 255}},
		{0.5, 2.5, []float32{0.5, 0.9, 2.5, 0.5 + 256.0/255}},
	} {
		s := newStream(t, im, ImageStreamOptions{BatchSize: 1, Lo: c.lo, Hi: c.hi})
		b := <-s.Epoch(context.Background(), 0, 0)
		for i, v := range b.X {
			if math.Abs(float64(v-c.want[i])) > 1e-6 {
				t.Errorf("[%g,%g]: pixel %d -> %v, want %v", c.lo, c.hi, im.Pixels[i], v, c.want[i])
			}
		}
		if b.X[0] != c.want[0] || b.X[2] != c.want[2] {
			t.Errorf("[%g,%g]: ends %v %v not exact", c.lo, c.hi, b.X[0], b.X[2])
		}
		b.Release()
	}
}

func TestImageStreamOptionErrors(t *testing.T) {
	im := indexedImages(10, 2, 2)
	bad := *im
	bad.Pixels = bad.Pixels[:5]
	badLabels := *im
	badLabels.Labels = badLabels.Labels[:3]
	tests := []struct {
		name    string
		im      *Images
		opts    ImageStreamOptions
		wantErr string
	}{
		{"nil images", nil, ImageStreamOptions{BatchSize: 1}, "no images"},
		{"pixels", &bad, ImageStreamOptions{BatchSize: 1}, "test: inconsistent image set: 10 images of 2x2 but 5 pixels"},
		{"labels", &badLabels, ImageStreamOptions{BatchSize: 1}, "test: 3 labels for 10 images"},
		{"zero batch", im, ImageStreamOptions{}, "test: batch size must be positive, got 0"},
		{"negative batch", im, ImageStreamOptions{BatchSize: -3}, "batch size must be positive, got -3"},
		{"batch over set", im, ImageStreamOptions{BatchSize: 11, Shuffle: true, DropLast: true}, "test: batch_size=11 is larger than its 10 training images: set batch_size to 10 or less"},
		{"empty range", im, ImageStreamOptions{BatchSize: 1, Lo: 1, Hi: 1}, "pixel range [1, 1] is empty"},
		{"inverted range", im, ImageStreamOptions{BatchSize: 1, Lo: 1, Hi: -1}, "pixel range [1, -1] is empty"},
		{"NaN range", im, ImageStreamOptions{BatchSize: 1, Hi: float32(math.NaN())}, "is empty"},
		{"prefetch", im, ImageStreamOptions{BatchSize: 1, Prefetch: -1}, "prefetch must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewImageStream(tt.im, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestImageStreamNegativeStartPanics(t *testing.T) {
	s := newStream(t, indexedImages(4, 1, 1), ImageStreamOptions{BatchSize: 2})
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	s.Epoch(context.Background(), 0, -1)
}

// Cancelling mid-epoch closes the channel and ends the producer, whether the consumer
// drains the channel or walks away. synctest fails the test if a goroutine is left
// blocked when the bubble ends.
func TestImageStreamCancel(t *testing.T) {
	for _, drain := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			s := newStream(t, indexedImages(100, 2, 2), ImageStreamOptions{BatchSize: 5, Prefetch: 3})
			ctx, cancel := context.WithCancel(context.Background())
			ch := s.Epoch(ctx, 0, 0)
			(<-ch).Release()
			(<-ch).Release()
			cancel()
			if !drain {
				return
			}
			n := 2
			for b := range ch {
				b.Release()
				n++
			}
			// At most what was already queued or being filled arrives after the cancel.
			if n >= s.BatchesPerEpoch() {
				t.Fatalf("%d of %d batches after cancelling", n, s.BatchesPerEpoch())
			}
		})
	}
}

func TestImageStreamCancelledBeforeStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStream(t, indexedImages(10, 1, 1), ImageStreamOptions{BatchSize: 2, Shuffle: true})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for range s.Epoch(ctx, 0, 0) {
			t.Fatal("batch from a cancelled epoch")
		}
	})
}

// Once the free list is warm an epoch allocates a fixed amount (channel, goroutine,
// permutation), not a buffer per batch.
func TestImageStreamRecyclesBuffers(t *testing.T) {
	s := newStream(t, indexedImages(4000, 4, 4), ImageStreamOptions{BatchSize: 10, Shuffle: true})
	epoch := func(e int) {
		for b := range s.Epoch(context.Background(), e, 0) {
			b.Release()
		}
	}
	epoch(0)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	epoch(1)
	runtime.ReadMemStats(&after)
	if allocs := after.Mallocs - before.Mallocs; allocs > 100 {
		t.Fatalf("%d allocations for an epoch of %d batches", allocs, s.BatchesPerEpoch())
	}
}
