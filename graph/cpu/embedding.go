package cpu

import (
	"fmt"
	"math"

	"github.com/aigc-go/aigc/graph/exec"
)

// Embedding lookups and the key/value cache write.

func init() {
	register("Lookup", lookupKernel[float32], lookupKernel[float64])
	register("LookupGrad", lookupGradKernel[float32], lookupGradKernel[float64])
	register("CacheWrite", cacheWriteKernel[float32], cacheWriteKernel[float64])
}

// RowIndex returns id, the n-th of a list, as a row index into a table of v rows.
func RowIndex[T float](id T, n, v int) (int, error) {
	f := float64(id)
	if !(f >= 0 && f < float64(v) && f == math.Trunc(f)) {
		return 0, fmt.Errorf("id %v at position %d is not a row of the %d-row table", f, n, v)
	}
	return int(f), nil
}

func lookupKernel[T float](p *exec.Prep) (exec.Launch, error) {
	y, w, ids := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1])
	v, e := p.In[0].Shape[0], p.In[0].Shape[1]
	return func() error {
		for n, id := range ids {
			k, err := RowIndex(id, n, v)
			if err != nil {
				return err
			}
			copy(y[n*e:(n+1)*e], w[k*e:(k+1)*e])
		}
		return nil
	}, nil
}

// lookupGradKernel scatters dy's rows into the table's gradient, adding where an id
// repeats.
func lookupGradKernel[T float](p *exec.Prep) (exec.Launch, error) {
	dw, ids, dy := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1])
	v, e := p.Out.Shape[0], p.Out.Shape[1]
	return func() error {
		clear(dw)
		for n, id := range ids {
			k, err := RowIndex(id, n, v)
			if err != nil {
				return err
			}
			AddRange(dw[k*e:(k+1)*e], dw[k*e:(k+1)*e], dy[n*e:(n+1)*e])
		}
		return nil
	}, nil
}

func cacheWriteKernel[T float](p *exec.Prep) (exec.Launch, error) {
	op := p.Op.(exec.CacheWrite)
	y, cache, src, pos := data[T](p.Out), data[T](p.In[0]), data[T](p.In[1]), data[T](p.In[2])
	rows, w := p.In[0].Shape[0], p.In[0].Shape[1]
	return func() error {
		r, err := RowIndex(pos[0], 0, rows)
		if err != nil {
			return err
		}
		copy(y, cache)
		copy(y[r*w:(r+1)*w], src[op.Off:op.Off+w])
		return nil
	}, nil
}
