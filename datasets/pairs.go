package datasets

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/aigc-go/aigc/internal/rng"
)

// Pair is one sequence-to-sequence example, each side a list of space-separated tokens.
type Pair struct {
	Source, Target []string
}

// PairSet is a task's training and test pairs.
type PairSet struct {
	Name        string
	Train, Test []Pair
	Origin      Origin // the TSV file read (its bytes), or the task generated (its pairs)
}

// TaskNames lists the built-in generated tasks.
var TaskNames = []string{"reverse", "sort", "add"}

// GenerateTask makes a built-in task's pairs from a seed: n training pairs, and nTest test
// pairs from a different stream of the same seed (so the test set is held out, up to
// chance repeats of short sequences). reverse and sort read digit sequences of lengths
// minLen..maxLen; add reads two numbers of 1..maxLen/2 digits ("3 5 + 1 2" → "4 7").
func GenerateTask(name string, n, nTest, minLen, maxLen int, seed uint64) (*PairSet, error) {
	if minLen < 1 || maxLen < minLen {
		return nil, fmt.Errorf("task %s: lengths must satisfy 1 <= min <= max (got %d, %d)", name, minLen, maxLen)
	}
	var gen func(r *rng.RNG) Pair
	digits := func(r *rng.RNG, k int) []string {
		out := make([]string, k)
		for i := range out {
			out[i] = strconv.Itoa(r.IntN(10))
		}
		return out
	}
	switch name {
	case "reverse":
		gen = func(r *rng.RNG) Pair {
			src := digits(r, minLen+r.IntN(maxLen-minLen+1))
			tgt := make([]string, len(src))
			for i, d := range src {
				tgt[len(src)-1-i] = d
			}
			return Pair{src, tgt}
		}
	case "sort":
		gen = func(r *rng.RNG) Pair {
			src := digits(r, minLen+r.IntN(maxLen-minLen+1))
			tgt := append([]string(nil), src...)
			sort.Strings(tgt)
			return Pair{src, tgt}
		}
	case "add":
		half := max(1, maxLen/2)
		gen = func(r *rng.RNG) Pair {
			a, b := r.IntN(pow10(1+r.IntN(half))), r.IntN(pow10(1+r.IntN(half)))
			src := append(append(digitsOf(a), "+"), digitsOf(b)...)
			return Pair{src, digitsOf(a + b)}
		}
	default:
		return nil, fmt.Errorf("unknown task %q (want %s, or a TSV file)", name, strings.Join(TaskNames, ", "))
	}
	set := &PairSet{Name: name}
	r := rng.Stream(seed, pairTrainStream)
	for range n {
		set.Train = append(set.Train, gen(r))
	}
	r = rng.Stream(seed, pairTestStream)
	for range nTest {
		set.Test = append(set.Test, gen(r))
	}
	var tsv strings.Builder
	for _, p := range append(append([]Pair(nil), set.Train...), set.Test...) {
		fmt.Fprintf(&tsv, "%s\t%s\n", strings.Join(p.Source, " "), strings.Join(p.Target, " "))
	}
	set.Origin = originOf("", "task "+name, []byte(tsv.String()))
	return set, nil
}

// digitsOf spells n as its decimal digits, one token each.
func digitsOf(n int) []string { return strings.Split(strconv.Itoa(n), "") }

func pow10(k int) int {
	p := 1
	for range k {
		p *= 10
	}
	return p
}

const (
	pairTrainStream = 0x5041_0000_0001
	pairTestStream  = 0x5041_0000_0002
)

// LoadPairs reads a TSV file of source<TAB>target lines (tokens separated by spaces;
// blank lines skipped), the last testFraction of the lines becoming the test set. A line
// without exactly one tab, or with an empty side, is an error naming its line number.
func LoadPairs(path string, testFraction float64) (*PairSet, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file", path)
		}
		return nil, pathError(path, err)
	}
	var hashes fileHashes
	r := hashes.reader(path, f)
	set, err := ReadPairs(r, path, testFraction)
	if cerr := r.Close(); err == nil && cerr != nil {
		err = pathError(path, cerr)
	}
	if err != nil {
		return nil, err
	}
	set.Origin = hashes.origin(absArg(path), absArg(path), []string{path})
	return set, nil
}

// ReadPairs reads LoadPairs' TSV format from r; name identifies it in errors.
func ReadPairs(r io.Reader, path string, testFraction float64) (*PairSet, error) {
	var pairs []Pair
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 1<<24)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(text) == "" {
			continue
		}
		src, tgt, ok := strings.Cut(text, "\t")
		if !ok || strings.Contains(tgt, "\t") {
			return nil, fmt.Errorf("%s: line %d: want source<TAB>target, got %d tabs", path, line, strings.Count(text, "\t"))
		}
		p := Pair{strings.Fields(src), strings.Fields(tgt)}
		if len(p.Source) == 0 || len(p.Target) == 0 {
			return nil, fmt.Errorf("%s: line %d: empty source or target", path, line)
		}
		pairs = append(pairs, p)
	}
	if err := sc.Err(); err != nil {
		return nil, pathError(path, err)
	}
	if len(pairs) < 2 {
		return nil, fmt.Errorf("%s: %d pairs; need at least 2 (training and test)", path, len(pairs))
	}
	cut := min(len(pairs)-1, max(1, int(float64(len(pairs))*(1-testFraction))))
	return &PairSet{Name: path, Train: pairs[:cut], Test: pairs[cut:]}, nil
}

// Special token ids of a Vocab.
const (
	PadID = 0 // padding, never a target
	BOSID = 1 // starts every decoder input
	EOSID = 2 // ends every target
)

// Vocab maps the tokens of sequence pairs to ids, after the three specials.
type Vocab struct {
	Tokens []string // id → token; 0..2 are <pad>, <bos>, <eos>
	ids    map[string]int32
}

// NewVocab collects the tokens of pairs (both sides), sorted, after the specials.
func NewVocab(pairs []Pair) *Vocab {
	seen := map[string]bool{}
	for _, p := range pairs {
		for _, t := range append(append([]string(nil), p.Source...), p.Target...) {
			seen[t] = true
		}
	}
	toks := make([]string, 0, len(seen))
	for t := range seen {
		toks = append(toks, t)
	}
	sort.Strings(toks)
	return VocabOf(append([]string{"<pad>", "<bos>", "<eos>"}, toks...))
}

// VocabOf rebuilds a vocabulary from its token list (as saved in a checkpoint).
func VocabOf(tokens []string) *Vocab {
	v := &Vocab{Tokens: tokens, ids: map[string]int32{}}
	for i, t := range tokens {
		v.ids[t] = int32(i)
	}
	return v
}

// Encode returns the ids of tokens, or an error naming those not in the vocabulary.
func (v *Vocab) Encode(tokens []string) ([]int32, error) {
	ids := make([]int32, len(tokens))
	var missing []string
	for i, t := range tokens {
		id, ok := v.ids[t]
		if !ok || id <= EOSID {
			missing = append(missing, strconv.Quote(t))
			continue
		}
		ids[i] = id
	}
	if missing != nil {
		return nil, fmt.Errorf("tokens not in the vocabulary: %s", strings.Join(missing, ", "))
	}
	return ids, nil
}

// Decode returns the tokens of ids up to the first <eos>, skipping specials.
func (v *Vocab) Decode(ids []int32) []string {
	var out []string
	for _, id := range ids {
		if id == EOSID {
			break
		}
		if id > EOSID && int(id) < len(v.Tokens) {
			out = append(out, v.Tokens[id])
		}
	}
	return out
}

// PairBatch holds a batch of encoded pairs, padded to the longest side lengths the model
// was built for: Source [Rows, S]; DecIn [Rows, T] (<bos> then the target); DecOut [Rows,
// T] (the target then <eos>); masks of 1 for real positions.
type PairBatch struct {
	Rows, S, T    int
	Valid         int
	Source        []int32
	SourceMask    []float32
	DecIn, DecOut []int32
	TargetMask    []float32
}

// PairBatches cuts encoded pairs into batches of rows (the last zero-padded), in a
// permutation of (seed, epoch) when shuffling. Sides longer than S or T−1 are an error.
func PairBatches(src, tgt [][]int32, rows, s, t int, shuffle bool, seed uint64, epoch int) ([]*PairBatch, error) {
	if err := checkPairLengths(src, tgt, s, t); err != nil {
		return nil, err
	}
	order := pairOrder(len(src), shuffle, seed, epoch)
	var out []*PairBatch
	for i := 0; i*rows < len(src); i++ {
		b := newPairBatch(rows, s, t)
		fillPairs(b, src, tgt, order, i*rows)
		out = append(out, b)
	}
	return out, nil
}

// checkPairLengths checks every pair against a model's lengths: at most s source tokens,
// and t−1 target tokens (the decoder's t positions include <eos>).
func checkPairLengths(src, tgt [][]int32, s, t int) error {
	for k := range src {
		if len(src[k]) > s || len(tgt[k])+1 > t {
			return fmt.Errorf("pair %d has %d source and %d target tokens; the model takes at most %d and %d",
				k+1, len(src[k]), len(tgt[k]), s, t-1)
		}
	}
	return nil
}

// pairOrder is the order an epoch visits n pairs in: a permutation of (seed, epoch) when
// shuffling, else 0..n−1.
func pairOrder(n int, shuffle bool, seed uint64, epoch int) []int {
	if shuffle {
		return rng.Stream(seed, pairTrainStream+uint64(epoch)+1<<20).Perm(n)
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	return order
}

func newPairBatch(rows, s, t int) *PairBatch {
	return &PairBatch{Rows: rows, S: s, T: t, Source: make([]int32, rows*s), SourceMask: make([]float32, rows*s),
		DecIn: make([]int32, rows*t), DecOut: make([]int32, rows*t), TargetMask: make([]float32, rows*t)}
}

// fillPairs writes batch index of an epoch's order into b, clearing what a previous use of
// its buffers left. The pairs' lengths must have been checked.
func fillPairs(b *PairBatch, src, tgt [][]int32, order []int, first int) {
	s, t := b.S, b.T
	clear(b.Source)
	clear(b.SourceMask)
	clear(b.DecIn)
	clear(b.DecOut)
	clear(b.TargetMask)
	b.Valid = 0
	for r := 0; r < b.Rows && first+r < len(src); r++ {
		k := order[first+r]
		for j, id := range src[k] {
			b.Source[r*s+j], b.SourceMask[r*s+j] = id, 1
		}
		b.DecIn[r*t] = BOSID
		for j, id := range tgt[k] {
			b.DecIn[r*t+j+1] = id
			b.DecOut[r*t+j] = id
		}
		b.DecOut[r*t+len(tgt[k])] = EOSID
		for j := 0; j <= len(tgt[k]); j++ {
			b.TargetMask[r*t+j] = 1
		}
		b.Valid++
	}
}

// PairStream streams encoded pairs as batches (Batch.Pairs) through the same prefetching
// producer and recycled buffers as the other streams: shuffled per (seed, epoch) for
// training, in order for evaluation; the last batch is zero-padded (its Valid counts the
// real rows).
type PairStream struct {
	src, tgt [][]int32
	shuffle  bool
	seed     uint64
	batches  int
	shard    Shard
	pool     *batchPool
}

var _ Stream = (*PairStream)(nil)

// NewPairStream checks every pair against the model's lengths (at most s source tokens and
// t−1 target tokens) and returns the stream; in a data-parallel run, shard makes each
// batch this process's part of a global batch.
func NewPairStream(src, tgt [][]int32, rows, s, t int, shuffle bool, seed uint64, shard Shard) (*PairStream, error) {
	if rows <= 0 || len(src) == 0 || len(src) != len(tgt) {
		return nil, fmt.Errorf("pair stream: %d sources, %d targets, batch %d", len(src), len(tgt), rows)
	}
	global := rows * shard.ranks()
	if shuffle && global > len(src) {
		if shard.ranks() > 1 {
			return nil, fmt.Errorf("a global batch of %d (batch_size=%d on each of %d processes) is larger than the %d training pairs", global, rows, shard.ranks(), len(src))
		}
		return nil, fmt.Errorf("batch_size=%d is larger than the %d training pairs: set batch_size to %d or less", rows, len(src), len(src))
	}
	if err := checkPairLengths(src, tgt, s, t); err != nil {
		return nil, err
	}
	const prefetch = 2
	pool := newBatchPool(rows, 0, false, prefetch)
	pool.pairS, pool.pairT = s, t
	return &PairStream{src: src, tgt: tgt, shuffle: shuffle, seed: seed, shard: shard,
		batches: (len(src) + global - 1) / global, pool: pool}, nil
}

func (p *PairStream) BatchSize() int       { return p.pool.rows }
func (p *PairStream) BatchesPerEpoch() int { return p.batches }

// Epoch streams the batches of an epoch from batch start on; an epoch's order depends on
// (seed, epoch) alone, so a resumed run sees the batches an uninterrupted one would have.
func (p *PairStream) Epoch(ctx context.Context, epoch, start int) <-chan *Batch {
	ch := make(chan *Batch, 2)
	go func() {
		order := pairOrder(len(p.src), p.shuffle, p.seed, epoch)
		produce(ctx, p.pool, ch, start, p.batches, func(b *Batch, i int) {
			b.Epoch, b.Index = epoch, i
			fillPairs(b.Pairs, p.src, p.tgt, order, p.shard.first(i, p.pool.rows))
			b.Valid = b.Pairs.Valid
		})
	}()
	return ch
}
