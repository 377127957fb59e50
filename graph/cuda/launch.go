package cuda

import (
	"github.com/aigc-go/aigc/graph/exec"
	"github.com/aigc-go/aigc/kernels"
)

// A call is one prepared kernel launch.
type call struct {
	drv         kernels.Driver
	fn          kernels.Function
	grid, block [3]int
	shared      int
	args        []uint64
}

func (c *call) run() error { return c.drv.Launch(c.fn, c.grid, c.block, c.shared, c.args) }

// Kernel parameters, each 8 bytes.
func ptr(o exec.Operand) uint64 { return uint64(o.Buf.(Mem).P) }
func pm(m exec.Buffer) uint64   { return uint64(m.(Mem).P) }
func i64(n int) uint64          { return uint64(int64(n)) }
func f32(x float64) uint64      { return kernels.Float(float32(x)) }

// threads is the block size of the element-wise and row kernels.
const threads = 256

// maxBlocks bounds a grid-stride loop's grid: enough blocks to fill a large GPU.
const maxBlocks = 8192

// elems prepares a launch of a grid-stride kernel over n items.
func (d *Device) elems(name string, n int, args ...uint64) (*call, error) {
	blocks := min(max((n+threads-1)/threads, 1), maxBlocks)
	return d.grid(name, [3]int{blocks, 1, 1}, threads, args...)
}

// grid prepares a launch of name over a grid of blocks of block threads.
func (d *Device) grid(name string, grid [3]int, block int, args ...uint64) (*call, error) {
	f, err := d.fn(name)
	if err != nil {
		return nil, err
	}
	return &call{drv: d.drv, fn: f, grid: grid, block: [3]int{block, 1, 1}, args: args}, nil
}

// one turns a single call into a Launch.
func one(c *call, err error) (exec.Launch, error) {
	if err != nil {
		return nil, err
	}
	return c.run, nil
}

// seq runs calls in order.
func seq(cs ...*call) exec.Launch {
	return func() error {
		for _, c := range cs {
			if err := c.run(); err != nil {
				return err
			}
		}
		return nil
	}
}

// rowThreads is a row kernel's block size for rows of k: a multiple of 32, at most 256.
func rowThreads(k int) int { return min(max((k+31)/32*32, 32), threads) }
