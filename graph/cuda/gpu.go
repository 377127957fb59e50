//go:build aigc_cuda

package cuda

import (
	"fmt"

	"github.com/aigc-go/aigc/kernels"
)

// Open returns the device of GPU index (cuda:index).
func Open(index int) (*Device, error) {
	g, err := kernels.OpenGPU(index)
	if err != nil {
		return nil, err
	}
	return New(g, fmt.Sprintf("cuda:%d", index))
}
