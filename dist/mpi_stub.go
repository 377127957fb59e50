//go:build !cgo || !linux

package dist

import "errors"

// Loadable reports whether this build can load Open MPI (it has cgo on Linux).
const Loadable = false

// openMPI needs cgo (dlopen) on Linux; this build has neither.
func openMPI() (Comm, error) {
	return nil, errors.New("launched by mpirun, but this aigc was built without cgo, so it cannot load Open MPI: build it with CGO_ENABLED=1")
}
