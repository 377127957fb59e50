package exec

import "os"

// Fusion of element-wise chains: a value computed by an element-wise op and read only by
// another element-wise op of the same size never goes to memory; the ops run as one
// instruction (Fused) that works through its inputs block by block, each block's
// intermediates staying in the cache (on a GPU: one launch instead of one per op). The
// pass is the executor's, the same for every device; a device that has no Fused kernel
// runs the ops one by one.

// fusion is whether Compile fuses (AIGC_FUSE=0 turns it off, for comparisons).
var fusion = os.Getenv("AIGC_FUSE") != "0"

// UseFusion turns fusion on or off for programs compiled from now on and returns the
// previous setting.
func UseFusion(on bool) bool {
	prev := fusion
	fusion = on
	return prev
}

// Elementwiser is implemented by ops whose output element i depends on their inputs'
// elements i only, all of one size.
type Elementwiser interface{ Elementwise() bool }

func elementwise(op Op) bool { e, ok := op.(Elementwiser); return ok && e.Elementwise() }

func (Add) Elementwise() bool      { return true }
func (Sub) Elementwise() bool      { return true }
func (Mul) Elementwise() bool      { return true }
func (Affine) Elementwise() bool   { return true }
func (Map) Elementwise() bool      { return true }
func (MapGrad) Elementwise() bool  { return true }
func (GELU) Elementwise() bool     { return true }
func (GELUGrad) Elementwise() bool { return true }

// Fused is a group of element-wise ops run as one: Steps in order, each reading the
// group's inputs or earlier steps' results; the output is the last step's.
type Fused struct{ Steps []FusedStep }

// FusedStep is one op of a Fused group. Args index the group's inputs (0 ≤ a < number of
// inputs) and then the steps' results (inputs + s for step s).
type FusedStep struct {
	Op   Op
	Args []int
}

func (Fused) Kind() string     { return "Fused" }
func (Fused) InPlace() bool    { return true }
func (f Fused) String() string { return "Fused" }

// epilogues folds into each matrix product the chain of one-input element-wise ops (an
// activation) that alone reads its result.
func epilogues(g *Graph) *Graph {
	readers := make([]int, len(g.Values))
	reader := make([]int, len(g.Values)) // the last node reading each value
	for i, n := range g.Nodes {
		for _, in := range n.In {
			readers[in]++
			reader[in] = i
		}
	}
	for _, o := range g.Outputs {
		readers[o] += 2
	}
	out := &Graph{Values: g.Values, Outputs: g.Outputs}
	folded := make([]bool, len(g.Nodes))
	for i, n := range g.Nodes {
		if folded[i] {
			continue
		}
		mm, ok := n.Op.(MatMul)
		for ok && readers[n.Out] == 1 {
			next := g.Nodes[reader[n.Out]]
			if len(next.In) != 1 || !epilogueOp(next.Op) || g.Values[next.Out].DType != g.Values[n.Out].DType {
				break
			}
			mm.Epilogue = append(append([]Op(nil), mm.Epilogue...), next.Op)
			folded[reader[n.Out]] = true
			n = Node{Op: mm, In: n.In, Out: next.Out, Name: n.Name + " " + next.name()}
		}
		out.Nodes = append(out.Nodes, n)
	}
	return out
}

// epilogueOp reports an element-wise op of one input.
func epilogueOp(op Op) bool {
	switch op.(type) {
	case Map, Affine:
		return true
	}
	return false
}

// group is a fusion group being built.
type group struct {
	ins   []int // the graph values the group reads
	steps []FusedStep
	outV  int // the graph value of the last step
	names []string
}

// fuse returns g with its element-wise chains fused. Values read outside their chain, and
// outputs, stay values of their own.
func fuse(g *Graph) *Graph {
	readers := make([]int, len(g.Values))
	for _, n := range g.Nodes {
		for _, in := range n.In {
			readers[in]++
		}
	}
	for _, o := range g.Outputs {
		readers[o] += 2 // never internal
	}
	groupOf := map[int]*group{} // value → the group whose last step computes it
	var order []any             // nodes and groups, each at its last member's place
	index := map[*group]int{}
	for _, n := range g.Nodes {
		if n.Out < 0 || !elementwise(n.Op) {
			order = append(order, n)
			continue
		}
		size, dt := Size(g.Values[n.Out].Shape), g.Values[n.Out].DType
		var gr *group
		for _, in := range n.In {
			if p := groupOf[in]; p != nil && readers[in] == 1 && Size(g.Values[in].Shape) == size && g.Values[in].DType == dt {
				gr = p
				break
			}
		}
		if gr == nil {
			gr = &group{}
		} else {
			delete(groupOf, gr.outV)
			order[index[gr]] = nil // the group moves to this node's place
		}
		args := make([]int, len(n.In))
		for i, in := range n.In {
			if in == gr.outV && len(gr.steps) > 0 && readers[in] == 1 {
				args[i] = -1 - (len(gr.steps) - 1) // the previous step's result, resolved below
				continue
			}
			args[i] = gr.input(in)
		}
		gr.steps = append(gr.steps, FusedStep{Op: n.Op, Args: args})
		gr.names = append(gr.names, n.name())
		gr.outV = n.Out
		groupOf[n.Out] = gr
		index[gr] = len(order)
		order = append(order, gr)
	}
	out := &Graph{Values: g.Values, Outputs: g.Outputs}
	for _, x := range order {
		switch x := x.(type) {
		case Node:
			out.Nodes = append(out.Nodes, x)
		case *group:
			out.Nodes = append(out.Nodes, x.node())
		}
	}
	return out
}

// input returns the group's index of graph value v, adding it.
func (gr *group) input(v int) int {
	for i, in := range gr.ins {
		if in == v {
			return i
		}
	}
	gr.ins = append(gr.ins, v)
	return len(gr.ins) - 1
}

// node is the group as a graph node: its single op itself when it has one step.
func (gr *group) node() Node {
	if len(gr.steps) == 1 {
		in := make([]int, len(gr.steps[0].Args))
		for i, a := range gr.steps[0].Args {
			in[i] = gr.ins[a]
		}
		return Node{Op: gr.steps[0].Op, In: in, Out: gr.outV, Name: gr.names[0]}
	}
	steps := make([]FusedStep, len(gr.steps))
	for s, st := range gr.steps {
		args := make([]int, len(st.Args))
		for i, a := range st.Args {
			if a < 0 { // step −1−a's result
				a = len(gr.ins) + (-1 - a)
			}
			args[i] = a
		}
		steps[s] = FusedStep{Op: st.Op, Args: args}
	}
	name := "Fused"
	for _, n := range gr.names {
		name += " " + n
	}
	return Node{Op: Fused{Steps: steps}, In: gr.ins, Out: gr.outV, Name: name}
}
