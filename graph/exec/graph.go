package exec

import (
	"fmt"
	"slices"
)

// Graph is a computation to compile: values, and the nodes that compute them in the order
// they run (each node's inputs are leaves or outputs of earlier nodes).
type Graph struct {
	Values  []Value
	Nodes   []Node
	Outputs []int // the values the caller reads after a Run
}

// Value is one tensor of a graph.
type Value struct {
	DType DType
	Shape []int
	// Host, for a leaf, is the host memory it is bound to ([]float32 or []float64):
	// a parameter, an input the caller fills, a constant.
	Host any
	// Fed marks a leaf the caller rewrites between runs: it is copied to the device before
	// each Run (on devices that copy).
	Fed bool
}

// Node is one operation of a graph.
type Node struct {
	Op   Op
	In   []int // value indices
	Out  int   // value index, or -1 for an op that only updates inputs in place
	Name string
}

func (n Node) name() string {
	if n.Name != "" {
		return n.Name
	}
	return n.Op.Kind()
}

// Leaf adds a value bound to host memory and returns its index.
func (g *Graph) Leaf(host any, fed bool, shape ...int) int {
	dt, n, err := DTypeOf(host)
	if err != nil {
		panic(err)
	}
	if Size(shape) != n {
		panic(fmt.Sprintf("exec: leaf of %d elements with shape %v", n, shape))
	}
	g.Values = append(g.Values, Value{DType: dt, Shape: slices.Clone(shape), Host: host, Fed: fed})
	return len(g.Values) - 1
}

// Apply adds a node computing a new value of the given type and shape from inputs, and
// returns the new value's index.
func (g *Graph) Apply(op Op, name string, dt DType, shape []int, in ...int) int {
	g.Values = append(g.Values, Value{DType: dt, Shape: slices.Clone(shape)})
	out := len(g.Values) - 1
	g.Nodes = append(g.Nodes, Node{Op: op, In: in, Out: out, Name: name})
	return out
}

// Update adds a node with no output that updates some of its inputs in place.
func (g *Graph) Update(op Op, name string, in ...int) {
	g.Nodes = append(g.Nodes, Node{Op: op, In: in, Out: -1, Name: name})
}

// check validates the graph's structure.
func (g *Graph) check() error {
	defined := make([]bool, len(g.Values))
	for i, v := range g.Values {
		defined[i] = v.Host != nil
		if v.Host != nil {
			dt, n, err := DTypeOf(v.Host)
			if err != nil {
				return err
			}
			if dt != v.DType || n != Size(v.Shape) {
				return fmt.Errorf("exec: leaf %d is %d %v, declared %v %v", i, n, dt, v.DType, v.Shape)
			}
		}
	}
	for _, n := range g.Nodes {
		for _, in := range n.In {
			if in < 0 || in >= len(g.Values) || !defined[in] {
				return fmt.Errorf("exec: %s reads value %d before it is computed", n.name(), in)
			}
		}
		if n.Out >= 0 {
			if n.Out >= len(g.Values) || defined[n.Out] {
				return fmt.Errorf("exec: %s writes value %d, which is a leaf or already computed", n.name(), n.Out)
			}
			defined[n.Out] = true
		}
	}
	for _, o := range g.Outputs {
		if o < 0 || o >= len(g.Values) || !defined[o] {
			return fmt.Errorf("exec: output value %d is never computed", o)
		}
	}
	return nil
}

// Missing lists, for each op kind and type of g that dev has no kernel for, one entry
// "Kind (type)" naming the first node of it.
func Missing(dev Device, g *Graph) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range g.Nodes {
		if isView(n.Op) {
			continue
		}
		dt := nodeType(g, n)
		key := n.Op.Kind() + "/" + dt.String()
		if seen[key] || dev.Kernel(n.Op.Kind(), dt) != nil {
			continue
		}
		seen[key] = true
		out = append(out, fmt.Sprintf("%s (%v, in %s)", n.Op.Kind(), dt, n.name()))
	}
	return out
}

// nodeType is the element type a node computes in: its output's, or its first input's.
func nodeType(g *Graph, n Node) DType {
	if n.Out >= 0 {
		return g.Values[n.Out].DType
	}
	if len(n.In) > 0 {
		return g.Values[n.In[0]].DType
	}
	return Float32
}
