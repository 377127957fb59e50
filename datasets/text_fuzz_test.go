package datasets

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// oneLineNaming fails t unless err is one line starting with the source's name.
func oneLineNaming(t *testing.T, err error, name string) {
	t.Helper()
	if msg := err.Error(); !strings.HasPrefix(msg, name+": ") || strings.ContainsAny(msg, "\r\n") {
		t.Fatalf("bad error %q", msg)
	}
}

// FuzzReadPairs: the TSV reader never panics, errors are one line naming the file (and
// the line), and an accepted set has a training and a test part of pairs whose sides are
// non-empty lists of tokens without white space, which a vocabulary encodes and decodes.
func FuzzReadPairs(f *testing.F) {
	f.Add([]byte("a b\tb a\nc\tc\n"), 0.1)
	f.Add([]byte("a\tb\tc\n"), 0.5)
	f.Add([]byte("\t\n\n x \t y \r\n"), 0.0)
	f.Add([]byte("1 2 3\t3 2 1\n4 5\t5 4\n6\t6\n"), 1.0)
	f.Add([]byte(strings.Repeat("a ", 3000)+"\ta\nb\tb\n"), 0.1)
	f.Fuzz(func(t *testing.T, data []byte, frac float64) {
		if !(frac >= 0 && frac <= 1) {
			return // the callers' fraction is a constant in [0, 1]
		}
		set, err := ReadPairs(bytes.NewReader(data), "fuzz.tsv", frac)
		if err != nil {
			oneLineNaming(t, err, "fuzz.tsv")
			return
		}
		if len(set.Train) == 0 || len(set.Test) == 0 {
			t.Fatalf("%d training and %d test pairs", len(set.Train), len(set.Test))
		}
		all := append(append([]Pair(nil), set.Train...), set.Test...)
		for _, p := range all {
			if len(p.Source) == 0 || len(p.Target) == 0 {
				t.Fatalf("empty side in %v", p)
			}
			for _, tok := range append(append([]string(nil), p.Source...), p.Target...) {
				if tok == "" || strings.ContainsAny(tok, " \t\r\n") {
					t.Fatalf("token %q", tok)
				}
			}
		}
		v := NewVocab(all)
		for _, p := range all {
			ids, err := v.Encode(p.Source)
			if err != nil {
				t.Fatal(err)
			}
			if got := v.Decode(ids); strings.Join(got, " ") != strings.Join(p.Source, " ") {
				t.Fatalf("vocabulary round trip: %q became %q", p.Source, got)
			}
		}
	})
}

// FuzzCorpus: any bytes as a text corpus never panic the reader or the character
// tokeniser; errors are one line naming the file; an accepted corpus is valid UTF-8 split
// into training and validation text that join to the whole, and encodes and decodes back.
func FuzzCorpus(f *testing.F) {
	f.Add([]byte("First Citizen:\nBefore we proceed any further, hear me speak.\n"))
	f.Add([]byte("no newline at all"))
	f.Add([]byte{0xff, 'a'})
	f.Add([]byte("a"))
	f.Add([]byte("\x00\x01 naïve 日本語 \U0001F600"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := NewCorpus("fuzz.txt", string(data))
		if err != nil {
			oneLineNaming(t, err, "fuzz.txt")
			return
		}
		if !utf8.ValidString(c.Text) || c.Train+c.Val != c.Text {
			t.Fatalf("split %q + %q of %q", c.Train, c.Val, c.Text)
		}
		tok, err := TrainTokenizer("char", c.Text, 0)
		if err != nil {
			t.Fatalf("no character tokeniser for a valid corpus: %v", err)
		}
		ids, err := tok.Encode(c.Text)
		if err != nil {
			t.Fatalf("the corpus's own characters do not encode: %v", err)
		}
		if got := Decode(tok, ids); got != c.Text {
			t.Fatalf("round trip: %q became %q", c.Text, got)
		}
	})
}
