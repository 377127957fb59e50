package checkpoints

import (
	"fmt"
	"math"
	"math/bits"
	"sort"
)

// entry is a tensor's header entry once checked: its shape fits in ints and
// its byte range lies inside the data buffer and matches shape and dtype.
type entry struct {
	name       string
	dtype      string
	shape      []int
	begin, end int
}

// checkEntry checks one entry's numbers against each other and against the
// size of the data buffer. All arithmetic is done in uint64 with explicit
// overflow checks, because every number here comes from the file.
func checkEntry(r rawEntry, bufLen int) (entry, error) {
	name := quote(r.name)
	begin, end := r.offsets[0], r.offsets[1]
	if begin > end {
		return entry{}, fmt.Errorf("tensor %s: data_offsets [%d %d] end before they begin", name, begin, end)
	}
	if end > uint64(bufLen) {
		return entry{}, fmt.Errorf("tensor %s: data_offsets [%d %d] go past the end of the %d-byte data buffer (file truncated?)",
			name, begin, end, bufLen)
	}

	// Multiply left to right and fail on the first overflow, as the
	// reference implementation does, so that we never accept a file it
	// rejects.
	elems := uint64(1)
	for _, d := range r.shape {
		hi, lo := bits.Mul64(elems, d)
		if hi != 0 || d > math.MaxInt {
			return entry{}, fmt.Errorf("tensor %s: shape %v is too large", name, r.shape)
		}
		elems = lo
	}
	hi, nbits := bits.Mul64(elems, dtypeBits[r.dtype])
	if hi != 0 {
		return entry{}, fmt.Errorf("tensor %s: shape %v is too large", name, r.shape)
	}
	if nbits%8 != 0 {
		return entry{}, fmt.Errorf("tensor %s: %d elements of %s do not fill a whole number of bytes", name, elems, r.dtype)
	}
	if nbits/8 != end-begin {
		return entry{}, fmt.Errorf("tensor %s: shape %v of %s needs %d bytes, but data_offsets [%d %d] hold %d",
			name, r.shape, r.dtype, nbits/8, begin, end, end-begin)
	}

	shape := make([]int, len(r.shape))
	for i, d := range r.shape {
		shape[i] = int(d) // checked against MaxInt above
	}
	return entry{name: r.name, dtype: r.dtype, shape: shape, begin: int(begin), end: int(end)}, nil
}

// checkCoverage requires the tensors to tile the data buffer exactly: no two
// overlap and no byte belongs to no tensor. The reference implementation
// demands the same; overlaps would let one tensor's data alias another's,
// and gaps hide bytes nobody can see.
func checkCoverage(entries []entry, bufLen int) error {
	sorted := make([]entry, len(entries))
	copy(sorted, entries)
	sort.Slice(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if a.begin != b.begin {
			return a.begin < b.begin
		}
		if a.end != b.end {
			return a.end < b.end
		}
		return a.name < b.name
	})
	pos := 0
	for i, e := range sorted {
		if e.begin < pos {
			// Sorted by start, so the previous entry is the one that
			// reaches past e.begin.
			p := sorted[i-1]
			return fmt.Errorf("tensor %s (data_offsets [%d %d]) overlaps tensor %s (data_offsets [%d %d])",
				quote(e.name), e.begin, e.end, quote(p.name), p.begin, p.end)
		}
		if e.begin > pos {
			return fmt.Errorf("bytes %d to %d of the data buffer belong to no tensor (gap before tensor %s)",
				pos, e.begin, quote(e.name))
		}
		pos = e.end
	}
	if pos != bufLen {
		return fmt.Errorf("the last %d bytes of the %d-byte data buffer belong to no tensor", bufLen-pos, bufLen)
	}
	return nil
}
