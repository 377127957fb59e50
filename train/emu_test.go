//go:build aigc_emu

package train

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/aigc-go/aigc/graph"
	"github.com/aigc-go/aigc/graph/cuda"
)

// On the CUDA device (run on the host emulation of a GPU), a run interrupted and resumed
// in a new process ends with the checkpoint of a straight run, every tensor the same, and
// close to the CPU's run: the training loop's checkpoints, moving averages and inputs
// cross between host and GPU where they must.
func TestTrainingOnTheCUDADevice(t *testing.T) {
	cpuDir := t.TempDir()
	trainFor(t, cpuDir, 14, "ema=0.9")
	onCPU := checkpointTensors(t, filepath.Join(cpuDir, LatestFile))

	dev, err := cuda.NewEmulated()
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	prev := graph.UseDevice(dev)
	defer graph.UseDevice(prev)
	straight := t.TempDir()
	trainFor(t, straight, 14, "ema=0.9")
	want := checkpointTensors(t, filepath.Join(straight, LatestFile))
	dir := t.TempDir()
	trainFor(t, dir, 7, "ema=0.9")
	trainFor(t, dir, 14, "ema=0.9")
	got := checkpointTensors(t, filepath.Join(dir, LatestFile))

	if len(got) != len(want) || len(want) != len(onCPU) {
		t.Fatalf("%d tensors resumed, %d straight, %d on the CPU", len(got), len(want), len(onCPU))
	}
	for name, w := range want {
		g, c := got[name], onCPU[name]
		var diff, norm float64
		for i := range w {
			if g[i] != w[i] {
				t.Fatalf("%s[%d]: resumed %g, straight %g", name, i, g[i], w[i])
			}
			diff += (float64(w[i]) - float64(c[i])) * (float64(w[i]) - float64(c[i]))
			norm += float64(c[i]) * float64(c[i])
		}
		// 14 Adam steps amplify rounding where a gradient is near 0: a loose bound.
		if math.Sqrt(diff) > 1e-3*math.Sqrt(norm)+1e-4 {
			t.Errorf("%s: ‖GPU − CPU‖ %.3g, ‖CPU‖ %.3g", name, math.Sqrt(diff), math.Sqrt(norm))
		}
	}
}
