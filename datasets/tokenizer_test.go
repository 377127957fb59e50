package datasets

import (
	"bytes"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCharTokenizerShakespeare(t *testing.T) {
	c, _ := LoadCorpus("")
	tok, err := NewCharTokenizer(c.Text)
	if err != nil {
		t.Fatal(err)
	}
	// nanoGPT: 65 characters, "\n" first, then " ", "!", ...
	if tok.VocabSize() != 65 || string(tok.Bytes(0)) != "\n" || string(tok.Bytes(1)) != " " {
		t.Fatalf("vocabulary of %d starting %q %q", tok.VocabSize(), tok.Bytes(0), tok.Bytes(1))
	}
	ids, err := tok.Encode(c.Val)
	if err != nil || len(ids) != 111540 || Decode(tok, ids) != c.Val {
		t.Fatalf("validation split: %d ids, err %v, round trip %v", len(ids), err, Decode(tok, ids) == c.Val)
	}
	_, err = tok.Encode("ROMEO: ¿qué? ¿qué?")
	want := `characters not in the vocabulary of 65: '¿' (U+00BF), 'é' (U+00E9)`
	if err == nil || err.Error() != want {
		t.Fatalf("unknown characters: %v, want %q", err, want)
	}
}

// randomText mixes ASCII, accented letters, CJK, emoji, whitespace runs and digits.
func randomText(r *rand.Rand, n int) string {
	pieces := []string{"a", "e", "the", " ", "  ", "\n", "\t", "é", "ß", "日本", "🙂", "👍🏽", "1", "42", ",", "!", "'s", "Ω", "\u0301"}
	var sb strings.Builder
	for range n {
		sb.WriteString(pieces[r.IntN(len(pieces))])
	}
	return sb.String()
}

func TestBPERoundTripsAnyText(t *testing.T) {
	c, _ := LoadCorpus("")
	tok, err := TrainBPE(c.Train[:200000], 512)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		text := randomText(r, r.IntN(60))
		if i%3 == 0 { // arbitrary bytes too: byte-level BPE must carry them
			b := make([]byte, r.IntN(40))
			for j := range b {
				b[j] = byte(r.IntN(256))
			}
			text = string(b)
		}
		ids, err := tok.Encode(text)
		if err != nil {
			t.Fatal(err)
		}
		if got := Decode(tok, ids); got != text {
			t.Fatalf("round trip of %q gave %q", text, got)
		}
	}
}

func FuzzBPERoundTrip(f *testing.F) {
	tok, err := TrainBPE("the cat sat on the mat; the dog ate the hat. 日本語 🙂🙂 123 123", 300)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("the cat")
	f.Add("\xff\xfe日本")
	f.Fuzz(func(t *testing.T, s string) {
		ids, _ := tok.Encode(s)
		if got := Decode(tok, ids); got != s {
			t.Fatalf("round trip of %q gave %q", s, got)
		}
	})
}

func TestBPETrainingIsDeterministicAndCompresses(t *testing.T) {
	c, _ := LoadCorpus("")
	text := c.Train[:300000]
	a, err := TrainBPE(text, 1000)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := TrainBPE(text, 1000)
	if a.VocabSize() != 1000 || !reflect.DeepEqual(a.merges, b.merges) {
		t.Fatalf("two trainings differ (sizes %d, %d)", a.VocabSize(), b.VocabSize())
	}
	ids, _ := a.Encode(c.Val)
	// Bytes per token on held-out text: 1000 tokens should at least double the length each carries.
	if ratio := float64(len(c.Val)) / float64(len(ids)); ratio < 2 {
		t.Fatalf("compression %.2f bytes/token, want at least 2", ratio)
	}
	// The first merges of English text join common letters and a space with a letter.
	first := string(a.Bytes(256))
	if utf8.RuneCountInString(first) != 2 {
		t.Fatalf("first merge %q", first)
	}
	for id := range int32(a.VocabSize()) { // no token spans two words
		if bytes.Contains(bytes.TrimPrefix(a.Bytes(id), []byte(" ")), []byte(" ")) && strings.TrimSpace(string(a.Bytes(id))) != "" {
			t.Fatalf("token %d = %q crosses a word boundary", id, a.Bytes(id))
		}
	}
	if _, err := TrainBPE(text, 100); err == nil || !strings.Contains(err.Error(), "below 256") {
		t.Fatalf("vocab_size 100: %v", err)
	}
}

func TestTokenizerJSONRoundTrip(t *testing.T) {
	text := "To be, or not to be, that is the question: 日本 🙂"
	for _, kind := range []string{"char", "bpe"} {
		tok, err := TrainTokenizer(kind, text, 270)
		if err != nil {
			t.Fatal(err)
		}
		data, err := MarshalTokenizer(tok)
		if err != nil {
			t.Fatal(err)
		}
		back, err := UnmarshalTokenizer(data)
		if err != nil {
			t.Fatal(err)
		}
		x, _ := tok.Encode(text)
		y, _ := back.Encode(text)
		if back.Kind() != kind || back.VocabSize() != tok.VocabSize() || !reflect.DeepEqual(x, y) {
			t.Fatalf("%s: restored tokeniser differs", kind)
		}
	}
	for _, bad := range []string{`{"kind":"wordpiece"}`, `{"kind":"bpe","merges":[[256,1]]}`, `{"kind":"char","chars":"aa"}`, `{`} {
		if _, err := UnmarshalTokenizer([]byte(bad)); err == nil {
			t.Errorf("UnmarshalTokenizer(%s) accepted", bad)
		}
	}
}

func TestStreamDecoderNeverSplitsACharacter(t *testing.T) {
	tok, _ := newBPETokenizer(nil) // bytes only: every multi-byte character is split
	text := "héllo 日本 🙂!"
	ids, _ := tok.Encode(text)
	d := NewStreamDecoder(tok)
	var out strings.Builder
	for _, id := range ids {
		piece := d.Next(id)
		if !utf8.ValidString(piece) {
			t.Fatalf("emitted %q, not whole characters", piece)
		}
		out.WriteString(piece)
	}
	out.WriteString(d.Flush())
	if out.String() != text {
		t.Fatalf("streamed %q, want %q", out.String(), text)
	}
	// Invalid bytes are passed on, not held forever.
	if got := d.Next(0xff) + d.Next('a'); got != "\xffa" {
		t.Fatalf("invalid byte: %q", got)
	}
}
