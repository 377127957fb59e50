package datasets

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"unicode/utf8"
)

// tinyShakespeare is Karpathy's tiny Shakespeare (1,115,394 characters), the default corpus
// of the language models.
//
//go:embed text/tinyshakespeare.txt
var tinyShakespeare string

// Corpus is a text and its split into a training part and a validation part.
type Corpus struct {
	Source     string // the file it came from, or "tinyshakespeare" for the embedded one
	Origin     Origin // where it was read from, and the fingerprint of its bytes
	Text       string // valid UTF-8, never empty
	Train, Val string // the first 90% and the last 10% of Text's characters
}

// TrainFraction is the share of a corpus's characters that goes to training, as in
// nanoGPT's data preparation (for tiny Shakespeare: 1,003,854 and 111,540 characters).
const TrainFraction = 0.9

// LoadCorpus reads a UTF-8 text file, or the embedded tiny Shakespeare when path is empty.
// A missing or empty file and invalid UTF-8 give one-line errors naming the file (and the
// byte offset of the first invalid byte).
func LoadCorpus(path string) (*Corpus, error) {
	if path == "" {
		c, err := NewCorpus("tinyshakespeare", tinyShakespeare)
		if err == nil {
			c.Origin = originOf("", "tinyshakespeare (embedded)", []byte(tinyShakespeare))
		}
		return c, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s: no such file", path)
		}
		return nil, pathError(path, err)
	}
	c, err := NewCorpus(path, string(b))
	if err == nil {
		c.Origin = originOf(absArg(path), absArg(path), b)
	}
	return c, err
}

// NewCorpus checks text and splits it; source names it in messages.
func NewCorpus(source, text string) (*Corpus, error) {
	if len(text) == 0 {
		return nil, fmt.Errorf("%s: the corpus is empty", source)
	}
	if off := invalidUTF8(text); off >= 0 {
		return nil, fmt.Errorf("%s: invalid UTF-8 at byte offset %d", source, off)
	}
	n := utf8.RuneCountInString(text)
	cut := byteOffsetOfRune(text, int(float64(n)*TrainFraction))
	return &Corpus{Source: source, Text: text, Train: text[:cut], Val: text[cut:]}, nil
}

// invalidUTF8 returns the offset of the first byte that does not start a valid UTF-8
// sequence, or -1.
func invalidUTF8(s string) int {
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return -1
}

// byteOffsetOfRune returns the byte offset where rune number k of s starts.
func byteOffsetOfRune(s string, k int) int {
	for i := range s {
		if k == 0 {
			return i
		}
		k--
	}
	return len(s)
}
