package models

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/aigc-go/aigc/graph"
)

// chunked runs a row-wise function (an encoder, a decoder) over any number of rows with
// one program of a fixed batch size, padding the last chunk.
type chunked struct {
	rows, in int
	input    *G.Node
	prog     *graph.Program
}

func newChunked(rows, in int, f func(x *G.Node) *G.Node) (*chunked, error) {
	c := &chunked{rows: rows, in: in}
	g := G.NewGraph()
	err := graph.Build(func() {
		c.input = graph.Input(g, "input", tensor.Float32, rows, in)
		out := f(c.input)
		var err error
		if c.prog, err = graph.Compile(out); err != nil {
			panic(err)
		}
	})
	return c, err
}

// run applies the function to n rows of x and returns the n output rows.
func (c *chunked) run(x []float32, n int) ([]float32, error) {
	if len(x) != n*c.in {
		return nil, fmt.Errorf("%d values for %d rows of %d", len(x), n, c.in)
	}
	var out []float32
	buf := graph.Buffer(c.input)
	for start := 0; start < n; start += c.rows {
		k := min(c.rows, n-start)
		clear(buf)
		copy(buf, x[start*c.in:(start+k)*c.in])
		if err := c.prog.Run(); err != nil {
			return nil, err
		}
		res := c.prog.Floats(0)
		width := len(res) / c.rows
		out = append(out, res[:k*width]...)
	}
	return out, nil
}

func (c *chunked) Close() error { return c.prog.Close() }
