package models

import (
	"fmt"

	G "gorgonia.org/gorgonia"

	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/graph"
	"github.com/aigc-go/aigc/internal/rng"
)

// The LSTM language model (as pytorch/examples/word_language_model, over characters or
// BPE tokens):
//
//	x_t  = Embedding(token_t)                               [B, embed]
//	h_t  = LSTM(x_t, h_{t−1}, c_{t−1})   layers deep, dropout between layers
//	p_t  = softmax(Linear(dropout(h_t)))                     [B, V]
//
// trained on windows of block_size tokens by truncated backpropagation through time, with
// the gradient's global norm clipped to grad_clip. With carry_state the state at the end of
// a window starts the next one (the batches are then contiguous rows of the corpus).

func init() {
	register(&Family{
		Name:      "lstm",
		Summary:   "LSTM language model (embedding, N-layer LSTM, softmax) on a text corpus",
		Data:      Text,
		NewConfig: func() configs.Config { return &LSTMConfig{} },
		Build: func(cfg configs.Config, env Env, r *rng.RNG) (Model, error) {
			return NewLSTM(cfg.(*LSTMConfig), env, r)
		},
	})
}

// LSTMConfig is the LSTM's configuration (configs/lstm.yaml).
type LSTMConfig struct {
	configs.Train `yaml:",inline"`
	configs.Text  `yaml:",inline"`
	Embed         int     `yaml:"embed"`
	Hidden        int     `yaml:"hidden"`
	Layers        int     `yaml:"layers"`
	Dropout       float64 `yaml:"dropout"`
	CarryState    bool    `yaml:"carry_state"`
}

// Contiguous reports whether training batches must continue each other (carry_state).
func (c *LSTMConfig) Contiguous() bool { return c.CarryState }

// Validate checks the config.
func (c *LSTMConfig) Validate() error {
	switch {
	case c.Embed <= 0 || c.Hidden <= 0 || c.Layers <= 0:
		return fmt.Errorf("embed, hidden and layers must be > 0 (got %d, %d, %d)", c.Embed, c.Hidden, c.Layers)
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return fmt.Errorf("dropout must be in [0, 1) (got %g)", c.Dropout)
	}
	if err := c.Text.Validate(); err != nil {
		return err
	}
	return c.Train.Validate()
}

// NewLSTM builds the model for the tokeniser in env, initialised from r.
func NewLSTM(cfg *LSTMConfig, env Env, r *rng.RNG) (Model, error) {
	if env.Tokenizer == nil {
		return nil, fmt.Errorf("lstm: no tokenizer")
	}
	v := env.Tokenizer.VocabSize()
	ps := graph.NewParams()
	net := &lstmNet{
		layers: cfg.Layers, hidden: cfg.Hidden,
		emb:  graph.NewEmbedding(ps, "embedding", v, cfg.Embed, r),
		lstm: graph.NewLSTM(ps, "lstm", cfg.Embed, cfg.Hidden, cfg.Layers, r),
		drop: graph.NewDropout(cfg.Dropout),
		fc:   graph.NewLinear(ps, "fc", cfg.Hidden, v, r),
	}
	return newRecurrentLM(cfg, cfg.CarryState, env, ps, net)
}

type lstmNet struct {
	layers, hidden int
	emb            *graph.Embedding
	lstm           *graph.LSTM
	drop           *graph.Dropout
	fc             *graph.Linear
}

// stateWidths: each layer's h, then each layer's c.
func (n *lstmNet) stateWidths() []int {
	w := make([]int, 2*n.layers)
	for i := range w {
		w[i] = n.hidden
	}
	return w
}

func (n *lstmNet) unroll(ids, s0 []*G.Node, training bool) (*G.Node, []*G.Node) {
	x := n.emb.Forward(stackSteps(ids)) // every step's embeddings at once, [T·B, embed]
	between := func(x *G.Node) *G.Node { return n.drop.Forward(x, training) }
	y, hT, cT := n.lstm.Forward(x, len(ids), s0[:n.layers], s0[n.layers:], between)
	return n.fc.Forward(n.drop.Forward(y, training)), append(hT, cT...)
}

func (n *lstmNet) fillMasks(g *G.ExprGraph, r *rng.RNG) { n.drop.Fill(g, r) }

// stackSteps stacks per-step [B, X] values (or [B] ids) time-major into [T·B, X].
func stackSteps(ys []*G.Node) *G.Node { return graph.Join(0, ys...) }
