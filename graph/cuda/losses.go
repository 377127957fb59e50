package cuda

import "github.com/aigc-go/aigc/graph/exec"

// Losses (kernels/losses.cu). Bad labels set the device's status word, reported by Sync.

func init() {
	register("BCEWithLogits", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		k := p.In[0].Shape[1]
		return one(d.grid("bce_rows", [3]int{p.Out.Size(), 1, 1}, rowThreads(k), ptr(p.Out), ptr(p.In[0]), ptr(p.In[1]), i64(k)))
	})
	register("BCEWithLogitsGrad", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		n := p.Out.Size()
		return one(d.elems("bce_grad", n, ptr(p.Out), ptr(p.In[0]), ptr(p.In[1]), ptr(p.In[2]), i64(p.In[0].Shape[1]), i64(n)))
	})
	register("XentStats", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		k := p.In[0].Shape[1]
		return one(d.grid("xent_stats", [3]int{p.In[0].Shape[0], 1, 1}, rowThreads(k), ptr(p.Out), ptr(p.In[0]), i64(k)))
	})
	register("Xent", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		rows, k := p.In[0].Shape[0], p.In[0].Shape[1]
		return one(d.elems("xent", rows, ptr(p.Out), ptr(p.In[0]), ptr(p.In[1]), ptr(p.In[2]), uint64(d.status), i64(k), i64(rows)))
	})
	register("XentGrad", func(d *Device, p *exec.Prep) (exec.Launch, error) {
		n, k := p.Out.Size(), p.In[0].Shape[1]
		return one(d.elems("xent_grad", n, ptr(p.Out), ptr(p.In[0]), ptr(p.In[1]), ptr(p.In[2]), ptr(p.In[3]), uint64(d.status), i64(k), i64(n)))
	})
}
