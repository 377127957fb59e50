package graph

import (
	"fmt"
	"math"
	"strings"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph/exec"
	"github.com/aigc-go/aigc/internal/rng"
)

// Param is one trainable tensor. Its data is shared by every graph that uses it (a model
// has a training graph, an evaluation graph, a sampling graph...), so an optimiser updating
// Value in place updates them all.
type Param struct {
	Name  string // PyTorch state_dict name, e.g. "fc1.weight"
	Value *tensor.Dense
	// Buffer marks state that is saved with the model but not trained, such as batch
	// normalisation's running statistics (PyTorch's buffers).
	Buffer bool
	nodes  map[*G.ExprGraph]*G.Node
}

// Node returns the parameter's node in g, creating it on first use.
func (p *Param) Node(g *G.ExprGraph) *G.Node {
	if n, ok := p.nodes[g]; ok {
		return n
	}
	n := G.NewTensor(g, p.Value.Dtype(), p.Value.Dims(), G.WithShape(p.Value.Shape()...),
		G.WithName(p.Name), G.WithValue(p.Value))
	p.nodes[g] = n
	return n
}

// Shape returns the parameter's shape.
func (p *Param) Shape() []int { return p.Value.Shape() }

// Data returns the parameter's float32 data (aigc models are float32). Unlike
// Dense.Data, it is a slice for scalars too (batch norm's num_batches_tracked).
func (p *Param) Data() []float32 { return p.Value.Float32s() }

// Params is a model's ordered set of parameters, with unique names.
type Params struct {
	Dtype tensor.Dtype // Float32 for models; Float64 in gradient checks
	list  []*Param
	names map[string]bool
	// reserved is the memory taken from the budget (exec.Reserve) for the parameters,
	// their gradients and optimiser moments; Release returns it.
	reserved int64
}

// Release returns the parameters' memory to the budget when their model is closed.
func (ps *Params) Release() {
	if ps == nil {
		return
	}
	exec.Release(ps.reserved)
	ps.reserved = 0
}

// Reserve takes more memory from the budget on behalf of the parameters (the buffers of
// gradient accumulation, say); Release returns it with theirs.
func (ps *Params) Reserve(what string, bytes int64) error {
	if err := exec.Reserve(what, bytes); err != nil {
		return err
	}
	ps.reserved += bytes
	return nil
}

// NewParams returns an empty float32 parameter set.
func NewParams() *Params { return &Params{Dtype: tensor.Float32} }

// New adds a zero parameter of the given name and shape.
func (ps *Params) New(name string, shape ...int) *Param { return ps.add(name, false, shape) }

// NewBuffer adds a zero buffer: saved in checkpoints, never trained.
func (ps *Params) NewBuffer(name string, shape ...int) *Param { return ps.add(name, true, shape) }

func (ps *Params) add(name string, buffer bool, shape []int) *Param {
	if ps.names == nil {
		ps.names = map[string]bool{}
	}
	if ps.names[name] {
		panic(fmt.Sprintf("graph: duplicate parameter name %q", name))
	}
	ps.names[name] = true
	// The value, its gradient and two optimiser moments (a buffer: the value alone).
	copies := int64(4)
	if buffer {
		copies = 1
	}
	bytes := copies * int64(tensor.Shape(shape).TotalSize()) * int64(ps.Dtype.Size())
	if err := exec.Reserve("parameter "+name, bytes); err != nil {
		panic(err) // recovered where models are built (models.Family.Build)
	}
	ps.reserved += bytes
	p := &Param{
		Name:   name,
		Value:  tensor.New(tensor.Of(ps.Dtype), tensor.WithShape(shape...)),
		Buffer: buffer,
		nodes:  map[*G.ExprGraph]*G.Node{},
	}
	params.Store(p.Value, true)
	ps.list = append(ps.list, p)
	return p
}

// All returns the trainable parameters in the order they were added.
func (ps *Params) All() []*Param { return ps.filter(func(p *Param) bool { return !p.Buffer }) }

// Prefixed returns the trainable parameters whose names start with prefix, such as a
// GAN's "generator." or "discriminator.", which have optimisers of their own.
func (ps *Params) Prefixed(prefix string) []*Param {
	return ps.filter(func(p *Param) bool { return !p.Buffer && strings.HasPrefix(p.Name, prefix) })
}

// State returns everything a checkpoint holds of the model: parameters and buffers, in
// the order they were added.
func (ps *Params) State() []*Param { return ps.list }

func (ps *Params) filter(keep func(*Param) bool) []*Param {
	var out []*Param
	for _, p := range ps.list {
		if keep(p) {
			out = append(out, p)
		}
	}
	return out
}

// Count returns the number of trainable scalars.
func (ps *Params) Count() int {
	n := 0
	for _, p := range ps.All() {
		n += p.Value.Size()
	}
	return n
}

// Uniform fills p with samples from U(-bound, bound).
func Uniform(p *Param, bound float64, r *rng.RNG) {
	switch d := values(p).(type) {
	case []float32:
		r.FillUniform(d, float32(-bound), float32(bound))
	case []float64:
		for i := range d {
			d[i] = (2*r.Float64() - 1) * bound
		}
	}
}

// Normal fills p with samples from N(mean, std²).
func Normal(p *Param, mean, std float64, r *rng.RNG) {
	switch d := values(p).(type) {
	case []float32:
		for i := range d {
			d[i] = float32(mean + std*r.NormFloat64())
		}
	case []float64:
		for i := range d {
			d[i] = mean + std*r.NormFloat64()
		}
	}
}

// Fill sets every element of p to v.
func Fill(p *Param, v float64) {
	switch d := values(p).(type) {
	case []float32:
		for i := range d {
			d[i] = float32(v)
		}
	case []float64:
		for i := range d {
			d[i] = v
		}
	}
}

// values returns a parameter's elements as a slice ([]float32 or []float64), scalars
// included.
func values(p *Param) any {
	if p.Value.Dtype() == tensor.Float64 {
		return p.Value.Float64s()
	}
	return p.Value.Float32s()
}

// fanInBound is PyTorch's default bound for Linear and Conv layers: its
// kaiming_uniform_(a=√5) on the weight and U(-1/√fan_in, 1/√fan_in) on the bias both
// reduce to 1/√fan_in.
func fanInBound(fanIn int) float64 { return 1 / math.Sqrt(float64(fanIn)) }
