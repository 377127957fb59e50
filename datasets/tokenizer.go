package datasets

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Tokenizer turns text into token ids and back.
type Tokenizer interface {
	// Kind names the scheme: "char" or "bpe".
	Kind() string
	// VocabSize is the number of distinct ids; every id is in [0, VocabSize).
	VocabSize() int
	// Encode returns the ids of text. It fails only when text holds something the
	// vocabulary cannot express (a character tokeniser meeting a new character); the
	// error names what.
	Encode(text string) ([]int32, error)
	// Bytes returns the UTF-8 bytes that id stands for. A BPE token may hold part of a
	// character; StreamDecoder joins such pieces before printing.
	Bytes(id int32) []byte
}

// Decode returns the text of ids.
func Decode(t Tokenizer, ids []int32) string {
	var sb strings.Builder
	for _, id := range ids {
		sb.Write(t.Bytes(id))
	}
	return sb.String()
}

// tokenizerJSON is how a tokeniser travels in a checkpoint's metadata, so sampling needs
// only the checkpoint.
type tokenizerJSON struct {
	Kind   string     `json:"kind"`
	Chars  string     `json:"chars,omitempty"`  // char: the vocabulary, in id order
	Merges [][2]int32 `json:"merges,omitempty"` // bpe: merge k makes token 256+k
}

// MarshalTokenizer returns t as JSON for a checkpoint.
func MarshalTokenizer(t Tokenizer) ([]byte, error) {
	switch t := t.(type) {
	case *CharTokenizer:
		return json.Marshal(tokenizerJSON{Kind: "char", Chars: string(t.chars)})
	case *BPETokenizer:
		return json.Marshal(tokenizerJSON{Kind: "bpe", Merges: t.merges})
	}
	return nil, fmt.Errorf("tokenizer: cannot save a %T", t)
}

// UnmarshalTokenizer rebuilds a tokeniser saved by MarshalTokenizer.
func UnmarshalTokenizer(data []byte) (Tokenizer, error) {
	var j tokenizerJSON
	if err := json.Unmarshal(data, &j); err != nil {
		return nil, fmt.Errorf("tokenizer: %v", err)
	}
	switch j.Kind {
	case "char":
		return newCharTokenizer([]rune(j.Chars))
	case "bpe":
		return newBPETokenizer(j.Merges)
	}
	return nil, fmt.Errorf("tokenizer: unknown kind %q (want char or bpe)", j.Kind)
}

// TrainTokenizer builds a tokeniser of the given kind from a corpus text. vocabSize is
// the BPE vocabulary's target size (at least 256, the bytes); the char tokeniser's size
// is the number of distinct characters and vocabSize is ignored.
func TrainTokenizer(kind, text string, vocabSize int) (Tokenizer, error) {
	switch kind {
	case "char":
		return NewCharTokenizer(text)
	case "bpe":
		return TrainBPE(text, vocabSize)
	}
	return nil, fmt.Errorf("unknown tokenizer %q (want char or bpe)", kind)
}

// CharTokenizer maps each distinct character of a corpus to an id, in code point order
// (nanoGPT's shakespeare_char: 65 ids for tiny Shakespeare, "\n" first).
type CharTokenizer struct {
	chars []rune
	ids   map[rune]int32
	bytes [][]byte
}

// NewCharTokenizer returns the tokeniser of text's distinct characters.
func NewCharTokenizer(text string) (*CharTokenizer, error) {
	seen := map[rune]bool{}
	for _, r := range text {
		seen[r] = true
	}
	chars := make([]rune, 0, len(seen))
	for r := range seen {
		chars = append(chars, r)
	}
	sort.Slice(chars, func(i, j int) bool { return chars[i] < chars[j] })
	return newCharTokenizer(chars)
}

func newCharTokenizer(chars []rune) (*CharTokenizer, error) {
	if len(chars) == 0 {
		return nil, fmt.Errorf("char tokenizer: empty vocabulary")
	}
	t := &CharTokenizer{chars: chars, ids: make(map[rune]int32, len(chars)), bytes: make([][]byte, len(chars))}
	for i, r := range chars {
		if _, dup := t.ids[r]; dup {
			return nil, fmt.Errorf("char tokenizer: %q appears twice in the vocabulary", r)
		}
		t.ids[r] = int32(i)
		t.bytes[i] = utf8.AppendRune(nil, r)
	}
	return t, nil
}

func (t *CharTokenizer) Kind() string          { return "char" }
func (t *CharTokenizer) VocabSize() int        { return len(t.chars) }
func (t *CharTokenizer) Bytes(id int32) []byte { return t.bytes[id] }

// Encode returns one id per character, or an error listing every character (once, in
// order of appearance) that is not in the vocabulary.
func (t *CharTokenizer) Encode(text string) ([]int32, error) {
	ids := make([]int32, 0, len(text))
	var missing []string
	seen := map[rune]bool{}
	for _, r := range text {
		id, ok := t.ids[r]
		if !ok {
			if !seen[r] {
				seen[r] = true
				missing = append(missing, fmt.Sprintf("%q (U+%04X)", r, r))
			}
			continue
		}
		ids = append(ids, id)
	}
	if missing != nil {
		return nil, fmt.Errorf("characters not in the vocabulary of %d: %s", len(t.chars), strings.Join(missing, ", "))
	}
	return ids, nil
}

// StreamDecoder turns ids into text as they come, holding back the bytes of a character
// that a BPE token split until the rest arrives, so a stream never prints half a
// character.
type StreamDecoder struct {
	t       Tokenizer
	pending []byte
}

// NewStreamDecoder returns a decoder for t.
func NewStreamDecoder(t Tokenizer) *StreamDecoder { return &StreamDecoder{t: t} }

// Next returns the text completed by id (possibly empty).
func (d *StreamDecoder) Next(id int32) string {
	d.pending = append(d.pending, d.t.Bytes(id)...)
	// Emit everything up to the last character that is complete; a trailing partial
	// sequence of at most 3 bytes waits. Bytes that can never complete (invalid UTF-8)
	// are emitted rather than held forever.
	cut := len(d.pending)
	for back := 1; back <= 3 && back <= len(d.pending); back++ {
		i := len(d.pending) - back
		if c := d.pending[i]; c >= 0xC0 { // a lead byte: is its sequence complete?
			if !utf8.FullRune(d.pending[i:]) {
				cut = i
			}
			break
		} else if c < 0x80 {
			break
		}
	}
	out := string(d.pending[:cut])
	d.pending = append(d.pending[:0], d.pending[cut:]...)
	return out
}

// Flush returns whatever is held back.
func (d *StreamDecoder) Flush() string {
	out := string(d.pending)
	d.pending = d.pending[:0]
	return out
}
