package configs

import "fmt"

// Text holds the settings every language model shares (nanoGPT's names where it has one);
// families embed it inline next to Train.
type Text struct {
	Tokenizer string  `yaml:"tokenizer"`  // char, or bpe
	VocabSize int     `yaml:"vocab_size"` // bpe: the vocabulary's size, at least 256
	BlockSize int     `yaml:"block_size"` // tokens per training window (the context length)
	Clip      float64 `yaml:"grad_clip"`  // clip gradients to this global norm; 0: no clipping
}

// TextConfig gives the commands access to the text settings of any language model.
func (t *Text) TextConfig() *Text { return t }

// Validate checks the text settings.
func (t *Text) Validate() error {
	switch {
	case t.Tokenizer != "char" && t.Tokenizer != "bpe":
		return fmt.Errorf("tokenizer must be char or bpe (got %q)", t.Tokenizer)
	case t.Tokenizer == "bpe" && t.VocabSize < 256:
		return fmt.Errorf("vocab_size must be >= 256 for bpe, the byte alphabet (got %d)", t.VocabSize)
	case t.BlockSize <= 0:
		return fmt.Errorf("block_size must be > 0 (got %d)", t.BlockSize)
	case !(t.Clip >= 0):
		return fmt.Errorf("grad_clip must be >= 0 (got %g)", t.Clip)
	}
	return nil
}
