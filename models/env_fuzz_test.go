package models

import (
	"bytes"
	"strings"
	"testing"

	"github.com/aigc-go/aigc/checkpoints"
)

// FuzzEnvOf: what a checkpoint's metadata says of its data (image size, tokeniser,
// vocabulary, sequence lengths) never panics the reader, fails in one line naming the
// file, or gives an Env within the bounds a model may be built for.
func FuzzEnvOf(f *testing.F) {
	f.Add("28", "28", "", "", "", "")
	f.Add("100000", "28", "", "", "", "")
	f.Add("-1", "x", "", "", "", "")
	f.Add("", "", `{"kind":"char","chars":"abc"}`, "", "", "")
	f.Add("", "", `{"kind":"bpe","merges":[[1,2]]}`, "", "", "")
	f.Add("", "", "", `["<pad>","<bos>","<eos>","a"]`, "3,4", "")
	f.Add("", "", "", `["a"]`, "9999999,1", "")
	f.Fuzz(func(t *testing.T, h, w, tok, vocab, lengths, extra string) {
		raw := map[string]string{}
		for k, v := range map[string]string{keyImageH: h, keyImageW: w, keyTokenizer: tok, keyVocab: vocab, keyLengths: lengths, "x": extra} {
			if v != "" {
				raw[k] = v
			}
		}
		meta := checkpoints.Meta{Family: "vae", Extra: raw}
		var b bytes.Buffer
		if err := checkpoints.Encode(&b, nil, meta.Encode()); err != nil {
			return // metadata the safetensors header cannot carry
		}
		file, err := checkpoints.Decode(b.Bytes(), "fuzz.safetensors")
		if err != nil {
			t.Fatal(err)
		}
		m, err := file.DecodeMeta()
		if err != nil {
			t.Fatal(err)
		}
		env, err := EnvOf(file, m)
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "checkpoint fuzz.safetensors: ") || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("bad error %q", msg)
			}
			return
		}
		if err := env.Check(); err != nil {
			t.Fatalf("accepted an Env beyond its bounds: %v", err)
		}
		if env.Vocab == nil && env.Tokenizer == nil && (env.ImageH <= 0 || env.ImageW <= 0) {
			t.Fatalf("accepted images of %dx%d", env.ImageH, env.ImageW)
		}
		if env.Vocab != nil && (env.SrcLen < 1 || env.TgtLen < 2) {
			t.Fatalf("accepted sequence lengths %d, %d", env.SrcLen, env.TgtLen)
		}
		if env.Tokenizer != nil && env.Tokenizer.VocabSize() < 1 {
			t.Fatal("accepted an empty tokeniser")
		}
	})
}
