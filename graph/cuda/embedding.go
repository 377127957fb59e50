package cuda

import "github.com/aigc-go/aigc/graph/exec"

// Embedding lookups and the key/value cache (kernels/embedding.cu). An id outside the
// table sets the device's status word, which Sync reports.

func init() {
	register("Lookup", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		v, e, n := p.In[0].Shape[0], p.In[0].Shape[1], p.In[1].Size()
		return one(d.elems("lookup", n*e, ptr(p.Out), ptr(p.In[0]), ptr(p.In[1]), uint64(d.status), i64(v), i64(e), i64(n)))
	})
	register("LookupGrad", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		v, e, n := p.Out.Shape[0], p.Out.Shape[1], p.In[0].Size()
		zero, err := d.elems("fill", v*e, ptr(p.Out), f32(0), i64(v*e))
		if err != nil {
			return nil, err
		}
		scatter, err := d.elems("lookup_grad", n*e, ptr(p.Out), ptr(p.In[0]), ptr(p.In[1]), uint64(d.status), i64(v), i64(e), i64(n))
		if err != nil {
			return nil, err
		}
		return seq(zero, scatter), nil
	})
	register("CacheWrite", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		rows, w := p.In[0].Shape[0], p.In[0].Shape[1]
		return one(d.elems("cache_write", rows*w, ptr(p.Out), ptr(p.In[0]), ptr(p.In[1]), ptr(p.In[2]), uint64(d.status),
			i64(rows), i64(w), i64(p.Op.(exec.CacheWrite).Off)))
	})
}
