package exec

import "sort"

// Where a storage's memory comes from.
type storeKind uint8

const (
	leafStore   storeKind = iota // host memory of a leaf, bound to the device
	outputStore                  // host memory the program allocates for an output
	arenaStore                   // a planned range of the program's arena
)

// storage is the memory one or more values share: a view shares its input's, an op
// computed in place its first input's.
type storage struct {
	kind  storeKind
	dt    DType
	size  int
	def   int // the node that first writes it (arena)
	last  int // the last node that reads it
	off   int // arena offset, in elements
	host  any // leaves: their memory
	leafV int // leaves: the value bound
}

// plan is where every value lives.
type plan struct {
	store    []int // value → storage index (−1 for values no node computes or reads)
	storages []storage
	arena    map[DType]int // elements per arena
}

// arenaAlign keeps every planned buffer on a 64-byte boundary for vector loads.
const arenaAlign = 16

func alignUp(n int) int { return (n + arenaAlign - 1) / arenaAlign * arenaAlign }

// planMemory assigns storage to every value of g: leaves keep their host memory, outputs
// get memory of their own, and everything else a place in the arena by liveness.
func planMemory(g *Graph) *plan {
	p := &plan{store: make([]int, len(g.Values)), arena: map[DType]int{}}
	for i := range p.store {
		p.store[i] = -1
	}
	end := len(g.Nodes) // "read after the last node": outputs
	lastRead := make([]int, len(g.Values))
	for i := range lastRead {
		lastRead[i] = -1
	}
	for i, n := range g.Nodes {
		for _, in := range n.In {
			lastRead[in] = i
		}
	}
	output := make([]bool, len(g.Values))
	for _, o := range g.Outputs {
		output[o] = true
		lastRead[o] = end
	}
	newStorage := func(s storage) int {
		p.storages = append(p.storages, s)
		return len(p.storages) - 1
	}
	join := func(v, s int) {
		p.store[v] = s
		p.storages[s].last = max(p.storages[s].last, lastRead[v])
	}
	for v, val := range g.Values {
		if val.Host != nil {
			p.store[v] = newStorage(storage{kind: leafStore, dt: val.DType, size: Size(val.Shape), host: val.Host, leafV: v, def: -1, last: lastRead[v]})
		}
	}
	for i, n := range g.Nodes {
		if n.Out < 0 {
			continue
		}
		out := g.Values[n.Out]
		size := Size(out.Shape)
		var first *storage
		if len(n.In) > 0 {
			first = &p.storages[p.store[n.In[0]]]
		}
		switch {
		case isView(n.Op):
			join(n.Out, p.store[n.In[0]])
			if output[n.Out] && first.kind == arenaStore {
				first.kind = outputStore // an output viewing an intermediate: the intermediate lives in the output's memory
			}
		case inPlace(n.Op) && first != nil && first.kind == arenaStore && first.last == i &&
			first.dt == out.DType && first.size == size && !output[n.Out]:
			join(n.Out, p.store[n.In[0]])
		case output[n.Out]:
			p.store[n.Out] = newStorage(storage{kind: outputStore, dt: out.DType, size: size, def: i, last: end})
		default:
			s := newStorage(storage{kind: arenaStore, dt: out.DType, size: size, def: i, last: i})
			join(n.Out, s)
		}
	}
	p.placeArena(len(g.Nodes))
	return p
}

// placeArena gives every arena storage an offset: storages are placed when first written
// and their space is free again after their last reader, best fit among the free blocks.
func (p *plan) placeArena(nodes int) {
	starts := make([][]int, nodes)
	ends := make([][]int, nodes)
	for i, s := range p.storages {
		if s.kind != arenaStore {
			continue
		}
		starts[s.def] = append(starts[s.def], i)
		ends[s.last] = append(ends[s.last], i)
	}
	free := map[DType]*freeList{}
	for i := range nodes {
		for _, si := range starts[i] {
			s := &p.storages[si]
			fl := free[s.dt]
			if fl == nil {
				fl = &freeList{}
				free[s.dt] = fl
			}
			s.off = fl.take(alignUp(s.size))
		}
		for _, si := range ends[i] {
			s := &p.storages[si]
			free[s.dt].give(s.off, alignUp(s.size))
		}
	}
	for dt, fl := range free {
		p.arena[dt] = fl.high
	}
}

// freeList is a best-fit allocator of offsets in an arena that grows at its end.
type freeList struct {
	blocks []block // free, sorted by offset, never adjacent
	high   int     // arena size so far
}

type block struct{ off, size int }

func (f *freeList) take(size int) int {
	best := -1
	for i, b := range f.blocks {
		if b.size >= size && (best < 0 || b.size < f.blocks[best].size) {
			best = i
		}
	}
	if best < 0 {
		// Grow the arena, starting inside a free block that ends at the top.
		if n := len(f.blocks); n > 0 && f.blocks[n-1].off+f.blocks[n-1].size == f.high {
			off := f.blocks[n-1].off
			f.blocks = f.blocks[:n-1]
			f.high = off + size
			return off
		}
		off := f.high
		f.high += size
		return off
	}
	b := &f.blocks[best]
	off := b.off
	b.off += size
	b.size -= size
	if b.size == 0 {
		f.blocks = append(f.blocks[:best], f.blocks[best+1:]...)
	}
	return off
}

func (f *freeList) give(off, size int) {
	i := sort.Search(len(f.blocks), func(i int) bool { return f.blocks[i].off > off })
	f.blocks = append(f.blocks, block{})
	copy(f.blocks[i+1:], f.blocks[i:])
	f.blocks[i] = block{off, size}
	// Merge with the neighbours.
	if i+1 < len(f.blocks) && f.blocks[i].off+f.blocks[i].size == f.blocks[i+1].off {
		f.blocks[i].size += f.blocks[i+1].size
		f.blocks = append(f.blocks[:i+1], f.blocks[i+2:]...)
	}
	if i > 0 && f.blocks[i-1].off+f.blocks[i-1].size == f.blocks[i].off {
		f.blocks[i-1].size += f.blocks[i].size
		f.blocks = append(f.blocks[:i], f.blocks[i+1:]...)
	}
}
