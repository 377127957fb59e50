package exec

import (
	"fmt"
	"strings"
	"sync"
	"time"
)

// Program is a compiled graph on a device.
type Program struct {
	dev     Device
	steps   []step
	fed     []Buffer // leaves copied in before each Run
	outputs []output
	owned   []Buffer // arenas and scratch, freed by Close
	bound   []Buffer // bound leaves and outputs, released by Close
	arena   map[DType]int
	// reserved is the host memory taken from the budget (see Reserve).
	reserved int64
}

type step struct {
	run  Launch
	name string
	kind string
}

type output struct {
	host any
	buf  Buffer
}

// Compile plans g's memory on dev and prepares every node's kernel.
func Compile(dev Device, g *Graph) (prog *Program, err error) {
	if err := g.check(); err != nil {
		return nil, err
	}
	if fusion && dev.Kernel(Fused{}.Kind(), Float32) != nil {
		g = fuse(epilogues(g))
	}
	if missing := Missing(dev, g); len(missing) > 0 {
		return nil, fmt.Errorf("no %s kernel for %s", dev.Name(), strings.Join(missing, ", "))
	}
	p := &Program{dev: dev}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	pl := planMemory(g)
	p.arena = pl.arena
	if dev.Name() == "cpu" { // host memory: a GPU's arena is the GPU's
		var bytes int64
		for dt, n := range pl.arena {
			bytes += int64(n) * int64(dtypeSize(dt))
		}
		if err := Reserve("the activations of a compiled program", bytes); err != nil {
			return nil, err
		}
		p.reserved = bytes
	}
	bufs, err := p.materialise(g, pl)
	if err != nil {
		return nil, err
	}
	scratch := &scratchPool{}
	for _, n := range g.Nodes {
		if isView(n.Op) {
			continue
		}
		prep := &Prep{Op: n.Op, dev: dev, scratch: scratch}
		for _, in := range n.In {
			v := g.Values[in]
			prep.In = append(prep.In, Operand{DType: v.DType, Shape: v.Shape, Buf: bufs[in]})
		}
		if n.Out >= 0 {
			v := g.Values[n.Out]
			prep.Out = Operand{DType: v.DType, Shape: v.Shape, Buf: bufs[n.Out]}
		}
		run, err := dev.Kernel(n.Op.Kind(), nodeType(g, n))(prep)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n.name(), err)
		}
		p.steps = append(p.steps, step{run: run, name: n.name(), kind: n.Op.Kind()})
	}
	for _, dt := range []DType{Float32, Float64} {
		n := scratch.size(dt)
		if n == 0 {
			continue
		}
		if dev.Name() == "cpu" {
			bytes := int64(n) * int64(dtypeSize(dt))
			if err := Reserve("a compiled program's scratch memory", bytes); err != nil {
				return nil, err
			}
			p.reserved += bytes
		}
		buf, err := dev.Alloc(dt, n)
		if err != nil {
			return nil, err
		}
		p.owned = append(p.owned, buf)
		for _, r := range scratch.reqs {
			if r.dt == dt {
				r.buf = dev.Sub(buf, 0, r.n)
			}
		}
	}
	return p, nil
}

// materialise allocates the arenas and outputs, binds the leaves, and returns every
// value's buffer.
func (p *Program) materialise(g *Graph, pl *plan) ([]Buffer, error) {
	arenas := map[DType]Buffer{}
	for dt, n := range pl.arena {
		if n == 0 {
			continue
		}
		buf, err := p.dev.Alloc(dt, n)
		if err != nil {
			return nil, err
		}
		arenas[dt] = buf
		p.owned = append(p.owned, buf)
	}
	sbufs := make([]Buffer, len(pl.storages))
	for i, s := range pl.storages {
		var err error
		switch s.kind {
		case leafStore:
			if sbufs[i], err = p.dev.Bind(s.host); err == nil {
				p.bound = append(p.bound, sbufs[i])
				if g.Values[s.leafV].Fed {
					p.fed = append(p.fed, sbufs[i])
				}
			}
		case outputStore:
			host := newHost(s.dt, s.size)
			if sbufs[i], err = p.dev.Bind(host); err == nil {
				p.bound = append(p.bound, sbufs[i])
				pl.storages[i].host = host
			}
		case arenaStore:
			sbufs[i] = p.dev.Sub(arenas[s.dt], s.off, s.size)
		}
		if err != nil {
			return nil, err
		}
	}
	bufs := make([]Buffer, len(g.Values))
	for v, s := range pl.store {
		if s >= 0 {
			bufs[v] = sbufs[s]
		}
	}
	for _, o := range g.Outputs {
		// A view shares its storage, which has the same number of elements.
		p.outputs = append(p.outputs, output{host: pl.storages[pl.store[o]].host, buf: sbufs[pl.store[o]]})
	}
	return bufs, nil
}

func newHost(dt DType, n int) any {
	if dt == Float64 {
		return make([]float64, n)
	}
	return make([]float32, n)
}

// Run executes the program once: fed leaves are copied in, every instruction runs, and
// the outputs are copied out.
func (p *Program) Run() error {
	for _, b := range p.fed {
		if err := p.dev.CopyIn(b); err != nil {
			return err
		}
	}
	if profile != nil {
		return p.runProfiled()
	}
	for i := range p.steps {
		if err := p.steps[i].run(); err != nil {
			return fmt.Errorf("%s: %w", p.steps[i].name, err)
		}
	}
	for _, o := range p.outputs {
		if err := p.dev.CopyOut(o.buf); err != nil {
			return err
		}
	}
	return p.dev.Sync()
}

// Output returns the host memory of output i ([]float32 or []float64), valid after Run
// until the next one.
func (p *Program) Output(i int) any { return p.outputs[i].host }

// Device returns the device the program runs on.
func (p *Program) Device() Device { return p.dev }

// Steps is the number of instructions a Run executes.
func (p *Program) Steps() int { return len(p.steps) }

// ArenaBytes is the size of the program's planned memory, all element types together.
func (p *Program) ArenaBytes() int64 {
	var n int64
	for dt, e := range p.arena {
		w := int64(4)
		if dt == Float64 {
			w = 8
		}
		n += w * int64(e)
	}
	return n
}

// Close releases the program's memory.
func (p *Program) Close() error {
	for _, b := range p.owned {
		p.dev.Free(b)
	}
	for _, b := range p.bound {
		p.dev.Free(b)
	}
	p.owned, p.bound, p.steps = nil, nil, nil
	Release(p.reserved)
	p.reserved = 0
	return nil
}

func dtypeSize(dt DType) int {
	if dt == Float64 {
		return 8
	}
	return 4
}

// RunOnce prepares kernel k for one instruction and runs it at once, with scratch memory
// of its own: for machines that run a graph op by op (Gorgonia's TapeMachine, the
// reference aigc's executor is tested against).
func RunOnce(dev Device, k Kernel, op Op, out Operand, in []Operand) error {
	sp := &scratchPool{}
	run, err := k(&Prep{Op: op, Out: out, In: in, dev: dev, scratch: sp})
	if err != nil {
		return err
	}
	for _, r := range sp.reqs {
		if r.buf, err = dev.Alloc(r.dt, r.n); err != nil {
			return err
		}
		defer dev.Free(r.buf)
	}
	return run()
}

// Profiling: with a profile set, every Run times each instruction and adds the time to
// its kind's total (a diagnostic: it costs two clock reads per instruction).
var (
	profileMu sync.Mutex
	profile   map[string]time.Duration
)

// Profile starts (on) or stops collecting per-kind instruction times and returns what was
// collected, by kind.
func Profile(on bool) map[string]time.Duration {
	profileMu.Lock()
	defer profileMu.Unlock()
	prev := profile
	profile = nil
	if on {
		profile = map[string]time.Duration{}
	}
	return prev
}

func (p *Program) runProfiled() error {
	for i := range p.steps {
		start := time.Now()
		err := p.steps[i].run()
		if err == nil {
			err = p.dev.Sync()
		}
		d := time.Since(start)
		profileMu.Lock()
		if profile != nil {
			profile[p.steps[i].kind] += d
		}
		profileMu.Unlock()
		if err != nil {
			return fmt.Errorf("%s: %w", p.steps[i].name, err)
		}
	}
	for _, o := range p.outputs {
		if err := p.dev.CopyOut(o.buf); err != nil {
			return err
		}
	}
	return p.dev.Sync()
}
