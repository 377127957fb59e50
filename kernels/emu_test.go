//go:build aigc_emu

package kernels

import (
	"slices"
	"testing"
)

// The emulation runs exactly the kernels of the PTX: every EXPORT names a kernel nvcc
// compiled, and every kernel is exported.
func TestEmulationHasEveryKernel(t *testing.T) {
	emu := EmulatedKernels()
	slices.Sort(emu)
	if ptx := allEntries(); !slices.Equal(emu, ptx) {
		t.Fatalf("emulated %v\nPTX      %v", emu, ptx)
	}
}
