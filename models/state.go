package models

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/graph"
	"github.com/aigc-go/aigc/internal/rng"
)

// Metadata keys a model's checkpoint carries besides checkpoints.Meta's own.
const (
	keyImageH     = "image_h"
	keyImageW     = "image_w"
	keyTokenizer  = "tokenizer"
	keyVocab      = "vocab"
	keyLengths    = "seq_lengths"
	keyOptimSteps = "optim.steps"
	optimPrefix   = "optim."
)

// StateTensors returns what a checkpoint holds of m: its parameters and buffers under
// their PyTorch names, then each optimiser's moments as optim.* tensors. The tensors alias
// m's memory, brought to the host from the device.
func StateTensors(m Model) []checkpoints.Tensor {
	var ts []checkpoints.Tensor
	for _, p := range m.Params().State() {
		if err := graph.ToHost(p.Data()); err != nil {
			panic(fmt.Sprintf("reading %s from the device: %v", p.Name, err))
		}
		ts = append(ts, checkpoints.Tensor{Name: p.Name, Shape: p.Shape(), Data: p.Data()})
	}
	for _, o := range m.Optimizers() {
		ts = append(ts, o.State()...)
	}
	return ts
}

// StateMeta records what rebuilding m needs besides its config: the data's shape and the
// optimisers' step counts.
func StateMeta(m Model, env Env, extra map[string]string) {
	if env.Vocab != nil {
		b, _ := json.Marshal(env.Vocab.Tokens)
		extra[keyVocab] = string(b)
		extra[keyLengths] = fmt.Sprintf("%d,%d", env.SrcLen, env.TgtLen)
	} else if env.Tokenizer != nil {
		tok, err := datasets.MarshalTokenizer(env.Tokenizer)
		if err != nil {
			panic(err) // aigc's own tokenisers always marshal
		}
		extra[keyTokenizer] = string(tok)
	} else {
		extra[keyImageH] = strconv.Itoa(env.ImageH)
		extra[keyImageW] = strconv.Itoa(env.ImageW)
	}
	var steps []string
	for _, o := range m.Optimizers() {
		steps = append(steps, strconv.Itoa(o.Steps))
	}
	extra[keyOptimSteps] = strings.Join(steps, ",")
}

// EnvOf reads the Env stored by StateMeta.
func EnvOf(f *checkpoints.File, meta checkpoints.Meta) (env Env, err error) {
	defer func() {
		if err == nil {
			if err = env.Check(); err != nil {
				err = fmt.Errorf("checkpoint %s: metadata %w", f.Path, err)
			}
		}
	}()
	if v, ok := meta.Extra[keyVocab]; ok {
		var toks []string
		_, err1 := fmt.Sscanf(meta.Extra[keyLengths], "%d,%d", &env.SrcLen, &env.TgtLen)
		if err := json.Unmarshal([]byte(v), &toks); err != nil || err1 != nil || len(toks) <= datasets.EOSID || env.SrcLen < 1 || env.TgtLen < 2 {
			return env, fmt.Errorf("checkpoint %s: bad vocabulary or sequence lengths in its metadata", f.Path)
		}
		env.Vocab = datasets.VocabOf(toks)
		return env, nil
	}
	if tok, ok := meta.Extra[keyTokenizer]; ok {
		if env.Tokenizer, err = datasets.UnmarshalTokenizer([]byte(tok)); err != nil {
			return env, fmt.Errorf("checkpoint %s: %v", f.Path, err)
		}
		return env, nil
	}
	if env.ImageH, err = strconv.Atoi(meta.Extra[keyImageH]); err == nil {
		env.ImageW, err = strconv.Atoi(meta.Extra[keyImageW])
	}
	if err != nil || env.ImageH < 1 || env.ImageW < 1 {
		return env, fmt.Errorf("checkpoint %s: missing or bad image size in its metadata", f.Path)
	}
	return env, nil
}

// LoadState copies a checkpoint's tensors into m, checking every name and shape. With
// optim it restores the optimisers too (resuming training; averaged weights are left for
// the trainer to read). Without (sampling, evaluation), optimiser tensors are ignored and
// the averaged weights (graph.EMAPrefix) replace the trained ones where the checkpoint
// has them: they are the model the run evaluated. Any other tensor m does not have is an
// error.
func LoadState(m Model, f *checkpoints.File, meta checkpoints.Meta, optim bool) error {
	shadowed := map[string]bool{} // trained weights that averaged ones replace
	for _, p := range m.Params().State() {
		name := p.Name
		if _, ok := f.Shape(graph.EMAPrefix + name); ok && !optim && !p.Buffer {
			shadowed[name] = true
			name = graph.EMAPrefix + name
		}
		data, err := f.Tensor(name, p.Shape())
		if err != nil {
			return err
		}
		copy(p.Data(), data)
		if err := graph.ToDevice(p.Data()); err != nil {
			return err
		}
	}
	if optim {
		steps := strings.Split(meta.Extra[keyOptimSteps], ",")
		opts := m.Optimizers()
		if len(steps) != len(opts) {
			return fmt.Errorf("checkpoint %s: %d optimiser step counts, the model has %d optimisers", f.Path, len(steps), len(opts))
		}
		for i, o := range opts {
			n, err := strconv.Atoi(steps[i])
			if err != nil {
				return fmt.Errorf("checkpoint %s: bad optimiser step count %q", f.Path, steps[i])
			}
			if err := o.LoadState(f.Tensor, n); err != nil {
				return err
			}
		}
	}
	for _, name := range f.Unused() {
		ignored := strings.HasPrefix(name, graph.EMAPrefix)
		if !optim {
			ignored = strings.HasPrefix(name, optimPrefix) || shadowed[name]
		}
		if !ignored {
			return f.ExpectAllUsed()
		}
	}
	return nil
}

// Loaded is a model rebuilt from a checkpoint.
type Loaded struct {
	Path   string
	Family *Family
	Config configs.Config
	Env    Env
	Model  Model
	Meta   checkpoints.Meta
}

// Open rebuilds the model a checkpoint holds: it reads the file, checks the family (when
// want is not empty), rebuilds the config stored in it and loads the weights.
func Open(path, want string) (*Loaded, error) {
	f, err := checkpoints.Read(path)
	if err != nil {
		return nil, err
	}
	return open(f, path, want)
}

// embeddedName is how the weights a family ships in the binary are named in messages and
// reports, in place of a checkpoint's path.
func embeddedName(family string) string { return "embedded " + family + ".safetensors" }

// OpenEmbedded rebuilds the model whose weights ship in the binary (the classifier that
// judges generated images), or reports that the family has none.
func OpenEmbedded(family string) (*Loaded, error) {
	if family != "classifier" {
		return nil, fmt.Errorf("model %s has no weights built into aigc", family)
	}
	name := embeddedName(family)
	f, err := checkpoints.Decode(judgeWeights, name)
	if err != nil {
		return nil, err
	}
	return open(f, name, family)
}

func open(f *checkpoints.File, path, want string) (*Loaded, error) {
	meta, err := f.DecodeMeta()
	if err != nil {
		return nil, err
	}
	if want != "" {
		if err := f.ExpectFamily(want); err != nil {
			return nil, err
		}
	}
	fam, err := Lookup(meta.Family)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	cfg := fam.NewConfig()
	if err := configs.FromJSON(cfg, fam.Name, meta.Config, "checkpoint "+path+" config"); err != nil {
		return nil, err
	}
	env, err := EnvOf(f, meta)
	if err != nil {
		return nil, err
	}
	// The initialisation is overwritten by the checkpoint; any seed will do.
	m, err := fam.Build(cfg, env, rng.New(0))
	if err != nil {
		return nil, err
	}
	if err := LoadState(m, f, meta, false); err != nil {
		m.Close()
		return nil, err
	}
	return &Loaded{Path: path, Family: fam, Config: cfg, Env: env, Model: m, Meta: meta}, nil
}
