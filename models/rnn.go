package models

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/graph"
	"github.com/aigc-go/aigc/internal/rng"
)

// The Elman RNN of the reference design (PyTorch's char-RNN tutorial), on token x_t given
// one-hot or embedded:
//
//	combined = [x_t; h_{t−1}]
//	h_t      = tanh(i2h(combined))          activation: none keeps the tutorial's linear form
//	y_t      = log_softmax(i2o(combined))   the prediction of token t+1
//
// The loss is the negative log-likelihood of y_t, computed from i2o's logits by the fused
// softmax cross-entropy (the same value as NLL of log-softmax, without its round trip).
// Without the tanh the recurrence h_t = W·[x; h] is linear and its state grows without
// bound over a long window, so tanh is the default.

func init() {
	register(&Family{
		Name:      "rnn",
		Summary:   "Elman RNN language model (i2h/i2o on [input; hidden], log-softmax) on a text corpus",
		Data:      Text,
		NewConfig: func() configs.Config { return &RNNConfig{} },
		Build: func(cfg configs.Config, env Env, r *rng.RNG) (Model, error) {
			return NewRNN(cfg.(*RNNConfig), env, r)
		},
	})
}

// RNNConfig is the RNN's configuration (configs/rnn.yaml).
type RNNConfig struct {
	configs.Train `yaml:",inline"`
	configs.Text  `yaml:",inline"`
	Input         string `yaml:"input"`
	Embed         int    `yaml:"embed"`
	Hidden        int    `yaml:"hidden"`
	Activation    string `yaml:"activation"`
	CarryState    bool   `yaml:"carry_state"`
}

// Contiguous reports whether training batches must continue each other (carry_state).
func (c *RNNConfig) Contiguous() bool { return c.CarryState }

// Validate checks the config.
func (c *RNNConfig) Validate() error {
	switch {
	case c.Input != "onehot" && c.Input != "embed":
		return fmt.Errorf("input must be onehot or embed (got %q)", c.Input)
	case c.Input == "embed" && c.Embed <= 0:
		return fmt.Errorf("embed must be > 0 (got %d)", c.Embed)
	case c.Hidden <= 0:
		return fmt.Errorf("hidden must be > 0 (got %d)", c.Hidden)
	case c.Activation != "tanh" && c.Activation != "none":
		return fmt.Errorf("activation must be tanh or none (got %q)", c.Activation)
	}
	if err := c.Text.Validate(); err != nil {
		return err
	}
	return c.Train.Validate()
}

// NewRNN builds the model for the tokeniser in env, initialised from r.
func NewRNN(cfg *RNNConfig, env Env, r *rng.RNG) (Model, error) {
	if env.Tokenizer == nil {
		return nil, fmt.Errorf("rnn: no tokenizer")
	}
	v := env.Tokenizer.VocabSize()
	ps := graph.NewParams()
	net := &rnnNet{hidden: cfg.Hidden, tanh: cfg.Activation == "tanh"}
	in := v
	if cfg.Input == "embed" {
		net.emb = graph.NewEmbedding(ps, "embedding", v, cfg.Embed, r)
		in = cfg.Embed
	} else {
		net.eye = tensor.New(tensor.WithShape(v, v), tensor.Of(tensor.Float32))
		d := net.eye.Float32s()
		for i := range v {
			d[i*v+i] = 1
		}
	}
	net.i2h = graph.NewLinear(ps, "i2h", in+cfg.Hidden, cfg.Hidden, r)
	net.i2o = graph.NewLinear(ps, "i2o", in+cfg.Hidden, v, r)
	return newRecurrentLM(cfg, cfg.CarryState, env, ps, net)
}

type rnnNet struct {
	hidden   int
	tanh     bool
	emb      *graph.Embedding // input: embed
	eye      *tensor.Dense    // input: onehot, the rows to look one-hot vectors up in
	i2h, i2o *graph.Linear
}

func (n *rnnNet) stateWidths() []int { return []int{n.hidden} }

// input returns x_t for the step's ids.
func (n *rnnNet) input(ids *G.Node, eye *G.Node) *G.Node {
	if n.emb != nil {
		return n.emb.Forward(ids)
	}
	return graph.Lookup(eye, ids)
}

// unroll runs the whole window as one ElmanSequence: the states h_0..h_T, then every
// step's prediction from [x_t; h_{t−1}] as one product.
func (n *rnnNet) unroll(ids, s0 []*G.Node, _ bool) (*G.Node, []*G.Node) {
	g := ids[0].Graph()
	var eye *G.Node
	if n.eye != nil {
		eye = G.NewTensor(g, tensor.Float32, 2, G.WithShape(n.eye.Shape()...), G.WithName("onehot"), G.WithValue(n.eye))
	}
	steps, rows := len(ids), ids[0].Shape()[0]
	x := n.input(stackSteps(ids), eye) // [T·B, in]
	states := graph.ElmanSequence(x, s0[0], n.i2h.Weight.Node(g), n.i2h.Bias.Node(g), steps, n.tanh)
	hPrev := graph.Rows(states, 0, steps*rows) // h_0..h_{T−1}
	logits := n.i2o.Forward(graph.Join(1, x, hPrev))
	return logits, []*G.Node{graph.Rows(states, steps*rows, rows)}
}

func (n *rnnNet) fillMasks(*G.ExprGraph, *rng.RNG) {}
