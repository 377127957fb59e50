package datasets

import (
	"fmt"
	"sort"
	"sync"
	"unicode"
	"unicode/utf8"
)

// BPETokenizer is a byte-level byte-pair encoding (as GPT-2's): ids 0..255 are the bytes,
// and merge k joins two existing tokens into token 256+k. Any byte string encodes, so
// every UTF-8 text round-trips exactly.
//
// Text is first cut into chunks (a word with its leading space, a number, a run of
// punctuation, a run of whitespace) and merges never cross a chunk's edge, so tokens do
// not glue the end of one word to the start of the next.
type BPETokenizer struct {
	merges [][2]int32
	rank   map[[2]int32]int32 // pair → merge number: lower merges first
	bytes  [][]byte           // id → the bytes it stands for

	mu    sync.Mutex
	cache map[string][]int32 // chunk → ids; corpora repeat their words
}

// TrainBPE learns merges from text until the vocabulary has vocabSize tokens or no pair
// occurs twice. Each round merges the most frequent adjacent pair, ties going to the pair
// with the smaller ids, so the vocabulary depends on the text alone: the same corpus gives
// the same tokeniser on every run and for every seed.
func TrainBPE(text string, vocabSize int) (*BPETokenizer, error) {
	if vocabSize < 256 {
		return nil, fmt.Errorf("bpe: vocab_size %d is below 256, the byte alphabet it starts from", vocabSize)
	}
	counts := map[string]int{}
	splitChunks(text, func(c string) { counts[c]++ })
	chunks := make([]string, 0, len(counts))
	for c := range counts {
		chunks = append(chunks, c)
	}
	sort.Strings(chunks)
	words := make([][]int32, len(chunks))
	freq := make([]int, len(chunks))
	pairs := map[[2]int32]int{}
	for i, c := range chunks {
		words[i] = byteIDs(c)
		freq[i] = counts[c]
		addPairs(pairs, words[i], freq[i])
	}

	var merges [][2]int32
	for len(merges) < vocabSize-256 {
		best, n := bestPair(pairs)
		if n < 2 {
			break
		}
		id := int32(256 + len(merges))
		merges = append(merges, best)
		for i, w := range words {
			if !hasPair(w, best) {
				continue
			}
			addPairs(pairs, w, -freq[i])
			words[i] = mergePair(w, best, id)
			addPairs(pairs, words[i], freq[i])
		}
		for p, c := range pairs { // drop pairs that no longer occur
			if c == 0 {
				delete(pairs, p)
			}
		}
	}
	return newBPETokenizer(merges)
}

// newBPETokenizer checks merges (each may only join tokens that exist before it) and
// builds the byte table.
func newBPETokenizer(merges [][2]int32) (*BPETokenizer, error) {
	t := &BPETokenizer{merges: merges, rank: make(map[[2]int32]int32, len(merges)),
		bytes: make([][]byte, 256+len(merges)), cache: map[string][]int32{}}
	for b := range 256 {
		t.bytes[b] = []byte{byte(b)}
	}
	for k, m := range merges {
		id := int32(256 + k)
		if m[0] < 0 || m[0] >= id || m[1] < 0 || m[1] >= id {
			return nil, fmt.Errorf("bpe: merge %d joins %v, but only tokens below %d exist", k, m, id)
		}
		if _, dup := t.rank[m]; dup {
			return nil, fmt.Errorf("bpe: merge %d repeats the pair %v", k, m)
		}
		t.rank[m] = int32(k)
		t.bytes[id] = append(append([]byte{}, t.bytes[m[0]]...), t.bytes[m[1]]...)
	}
	return t, nil
}

func (t *BPETokenizer) Kind() string          { return "bpe" }
func (t *BPETokenizer) VocabSize() int        { return len(t.bytes) }
func (t *BPETokenizer) Bytes(id int32) []byte { return t.bytes[id] }

// Encode never fails: every byte is a token.
func (t *BPETokenizer) Encode(text string) ([]int32, error) {
	ids := make([]int32, 0, len(text)/3)
	t.mu.Lock()
	defer t.mu.Unlock()
	splitChunks(text, func(c string) {
		w, ok := t.cache[c]
		if !ok {
			w = t.encodeChunk(c)
			t.cache[c] = w
		}
		ids = append(ids, w...)
	})
	return ids, nil
}

// encodeChunk applies the merges to one chunk in the order they were learnt: always the
// adjacent pair with the lowest merge number next, as training built them.
func (t *BPETokenizer) encodeChunk(c string) []int32 {
	w := byteIDs(c)
	for len(w) > 1 {
		best, bestRank := [2]int32{}, int32(-1)
		for i := 0; i+1 < len(w); i++ {
			p := [2]int32{w[i], w[i+1]}
			if r, ok := t.rank[p]; ok && (bestRank < 0 || r < bestRank) {
				best, bestRank = p, r
			}
		}
		if bestRank < 0 {
			break
		}
		w = mergePair(w, best, 256+bestRank)
	}
	return w
}

func byteIDs(s string) []int32 {
	w := make([]int32, len(s))
	for i := 0; i < len(s); i++ {
		w[i] = int32(s[i])
	}
	return w
}

func addPairs(pairs map[[2]int32]int, w []int32, n int) {
	for i := 0; i+1 < len(w); i++ {
		pairs[[2]int32{w[i], w[i+1]}] += n
	}
}

func hasPair(w []int32, p [2]int32) bool {
	for i := 0; i+1 < len(w); i++ {
		if w[i] == p[0] && w[i+1] == p[1] {
			return true
		}
	}
	return false
}

// mergePair replaces each occurrence of p in w, left to right, by id.
func mergePair(w []int32, p [2]int32, id int32) []int32 {
	out := make([]int32, 0, len(w))
	for i := 0; i < len(w); i++ {
		if i+1 < len(w) && w[i] == p[0] && w[i+1] == p[1] {
			out = append(out, id)
			i++
			continue
		}
		out = append(out, w[i])
	}
	return out
}

// bestPair returns the most frequent pair, the smallest on ties.
func bestPair(pairs map[[2]int32]int) ([2]int32, int) {
	var best [2]int32
	n := 0
	for p, c := range pairs {
		if c > n || c == n && (p[0] < best[0] || p[0] == best[0] && p[1] < best[1]) {
			best, n = p, c
		}
	}
	return best, n
}

// runeClass groups characters for chunking.
func runeClass(r rune) int {
	switch {
	case unicode.IsLetter(r) || unicode.IsMark(r):
		return 1
	case unicode.IsNumber(r):
		return 2
	case unicode.IsSpace(r):
		return 3
	}
	return 4
}

// splitChunks calls f with the consecutive chunks of s, which together are s: runs of one
// class (letters, digits, whitespace, other), where a single space before a non-space run
// joins that run (" the"), as in GPT-2's pre-tokeniser. Invalid UTF-8 bytes count as
// "other".
func splitChunks(s string, f func(string)) {
	start := 0
	for start < len(s) {
		i := start
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == ' ' && i+size < len(s) {
			if next, nsize := utf8.DecodeRuneInString(s[i+size:]); runeClass(next) != 3 {
				i += size // the space leads the word that follows
				r, size = next, nsize
			}
		}
		class := runeClass(r)
		i += size
		for i < len(s) {
			r, size := utf8.DecodeRuneInString(s[i:])
			if runeClass(r) != class {
				break
			}
			if class == 3 && r == ' ' && i+size < len(s) { // keep a lone space for the next word
				if next, _ := utf8.DecodeRuneInString(s[i+size:]); runeClass(next) != 3 {
					break
				}
			}
			i += size
		}
		f(s[start:i])
		start = i
	}
}
