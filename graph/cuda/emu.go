//go:build aigc_emu

package cuda

import "github.com/aigc-go/aigc/kernels"

// NewEmulated returns the device over the host emulation of a GPU (kernels/emu.h), named
// cuda-emu: the tests of other packages register it to run whole programs through this
// package's kernel table without a GPU.
func NewEmulated() (*Device, error) { return New(kernels.NewEmulator(), "cuda-emu") }
