package cpu

import (
	"math"

	"github.com/aigc-go/aigc/graph/exec"
)

// GELU, x·Φ(x) with Φ the standard normal distribution function (torch.nn.GELU's exact
// form), and its gradient Φ(x) + x·φ(x).

func init() {
	register("GELU", geluKernel[float32](false), geluKernel[float64](false))
	register("GELUGrad", geluKernel[float32](true), geluKernel[float64](true))
}

func geluKernel[T float](grad bool) exec.Kernel {
	return func(p *exec.Prep) (exec.Launch, error) {
		y, x := data[T](p.Out), data[T](p.In[0])
		var dy []T
		if grad {
			dy = data[T](p.In[1])
		}
		return launch(len(x), 1<<13, func(lo, hi int) {
			var d []T
			if grad {
				d = dy[lo:hi]
			}
			geluRange(grad, y[lo:hi], x[lo:hi], d)
		}), nil
	}
}

// geluRange is y = x·Φ(x), or with grad y = dy·(Φ(x) + x·φ(x)).
func geluRange[T float](grad bool, y, x, dy []T) {
	fast := isFloat32[T]()
	for i, xv := range x[:len(y)] {
		v := float64(xv)
		var cdf, pdf float64
		if fast {
			cdf, pdf = NormalCDFPDF32(v)
		} else {
			cdf = 0.5 * (1 + math.Erf(v/math.Sqrt2))
			pdf = math.Exp(-0.5*v*v) / math.Sqrt(2*math.Pi)
		}
		if !grad {
			y[i] = T(v * cdf)
			continue
		}
		y[i] = dy[i] * T(cdf+v*pdf)
	}
}

// The float32 path's table: Φ and φ at the nodes x_i = −normalSpan + i/normalRes. Beyond
// ±normalSpan, Φ is 0 or 1 and φ is 0 to far below float32's resolution.
const normalSpan, normalRes = 8, 64

var normalCDF, normalPDF [2*normalSpan*normalRes + 2]float64

func init() {
	for i := range normalCDF {
		x := -normalSpan + float64(i)/normalRes
		normalCDF[i] = 0.5 * math.Erfc(-x/math.Sqrt2)
		normalPDF[i] = math.Exp(-0.5*x*x) / math.Sqrt(2*math.Pi)
	}
}

// NormalCDFPDF32 returns Φ(x) and φ(x) to about 1e-10 by cubic Hermite interpolation
// between the table's nodes, whose slopes are known exactly (Φ' = φ, φ' = −xφ): no
// exponential, no division.
func NormalCDFPDF32(x float64) (cdf, pdf float64) {
	if !(x > -normalSpan) {
		if x != x {
			return x, x
		}
		return 0, 0
	}
	if x >= normalSpan {
		return 1, 0
	}
	u := (x + normalSpan) * normalRes
	i := int(u)
	t := u - float64(i)
	t2 := t * t
	t3 := t2 * t
	h00, h01 := 2*t3-3*t2+1, 3*t2-2*t3 // weights of the two nodes' values
	h10, h11 := (t3-2*t2+t)/normalRes, (t3-t2)/normalRes
	c0, c1, p0, p1 := normalCDF[i], normalCDF[i+1], normalPDF[i], normalPDF[i+1]
	x0 := -normalSpan + float64(i)/normalRes
	x1 := x0 + 1.0/normalRes
	cdf = h00*c0 + h01*c1 + h10*p0 + h11*p1
	pdf = h00*p0 + h01*p1 - h10*x0*p0 - h11*x1*p1
	return cdf, pdf
}
