package main

import (
	"fmt"
	"strings"

	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/models"
)

// pairData is a sequence-to-sequence set encoded for a model and streamed as batches.
type pairData struct {
	Set         *datasets.PairSet
	Train, Test *datasets.PairStream
	Env         models.Env
}

// loadPairs builds the config's task (or reads --data, a TSV file) and encodes it with env's
// vocabulary and lengths when given (a checkpoint's), else with ones made from the data.
func loadPairs(fam *models.Family, cfg configs.Config, path string, seed uint64, env *models.Env, shard datasets.Shard) (*pairData, error) {
	tc, ok := cfg.(*models.TransformerConfig)
	if fam.Data != models.Pairs || !ok {
		return nil, fmt.Errorf("model %s reads %s, not sequence pairs", fam.Name, fam.Data)
	}
	var set *datasets.PairSet
	var err error
	if path != "" {
		set, err = datasets.LoadPairs(path, 0.1)
	} else {
		set, err = datasets.GenerateTask(tc.Task, tc.TrainPairs, tc.TestPairs, tc.MinLen, tc.MaxLen, seed)
	}
	if err != nil {
		return nil, err
	}
	d := &pairData{Set: set}
	if env != nil {
		d.Env = *env
	} else {
		d.Env.Vocab = datasets.NewVocab(append(append([]datasets.Pair(nil), set.Train...), set.Test...))
		for _, p := range append(append([]datasets.Pair(nil), set.Train...), set.Test...) {
			d.Env.SrcLen = max(d.Env.SrcLen, len(p.Source))
			d.Env.TgtLen = max(d.Env.TgtLen, len(p.Target)+1)
		}
		if err := d.Env.Check(); err != nil { // before a model is sized for it
			return nil, fmt.Errorf("%s: %w", set.Name, err)
		}
	}
	encode := func(pairs []datasets.Pair, what string) (src, tgt [][]int32, err error) {
		for i, p := range pairs {
			s, err := d.Env.Vocab.Encode(p.Source)
			if err == nil {
				var t []int32
				if t, err = d.Env.Vocab.Encode(p.Target); err == nil {
					src, tgt = append(src, s), append(tgt, t)
					continue
				}
			}
			return nil, nil, fmt.Errorf("%s: %s pair %d: %w", set.Name, what, i+1, err)
		}
		return src, tgt, nil
	}
	src, tgt, err := encode(set.Train, "training")
	if err != nil {
		return nil, err
	}
	bs := cfg.TrainConfig().BatchSize
	if d.Train, err = datasets.NewPairStream(src, tgt, bs, d.Env.SrcLen, d.Env.TgtLen, true, seed, shard); err != nil {
		return nil, fmt.Errorf("%s: %w", set.Name, err)
	}
	if src, tgt, err = encode(set.Test, "test"); err != nil {
		return nil, err
	}
	if d.Test, err = datasets.NewPairStream(src, tgt, bs, d.Env.SrcLen, d.Env.TgtLen, false, seed, datasets.Shard{}); err != nil {
		return nil, fmt.Errorf("%s: %w", set.Name, err)
	}
	return d, nil
}

func (d *pairData) describe() string {
	return fmt.Sprintf("%s (%d training and %d test pairs, %d tokens in the vocabulary, sources up to %d and targets up to %d tokens)",
		d.Set.Name, len(d.Set.Train), len(d.Set.Test), len(d.Env.Vocab.Tokens), d.Env.SrcLen, d.Env.TgtLen-1)
}

// translate decodes one space-separated input with a sequence-to-sequence model.
func translate(l *models.Loaded, input string, beam int) (string, error) {
	m, ok := l.Model.(*models.Transformer)
	if !ok {
		return "", fmt.Errorf("model %s cannot translate", l.Family.Name)
	}
	toks := strings.Fields(input)
	if len(toks) == 0 {
		return "", fmt.Errorf("--input is empty")
	}
	if len(toks) > l.Env.SrcLen {
		return "", fmt.Errorf("--input has %d tokens; this model takes at most %d", len(toks), l.Env.SrcLen)
	}
	ids, err := l.Env.Vocab.Encode(toks)
	if err != nil {
		return "", fmt.Errorf("--input: %w", err)
	}
	out, err := m.Translate([][]int32{ids}, beam)
	if err != nil {
		return "", err
	}
	return strings.Join(l.Env.Vocab.Decode(out[0]), " "), nil
}
