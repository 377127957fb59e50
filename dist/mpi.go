//go:build cgo && linux

package dist

// Open MPI, loaded at run time from libmpi.so.40 (the soname of Open MPI 3 to 5) with
// dlopen, so the plain aigc needs no MPI to build or run. This is our own thin binding of
// the seven calls data parallelism needs; MPI's handles are Open MPI's exported globals
// (MPI_COMM_WORLD is &ompi_mpi_comm_world, MPI_FLOAT &ompi_mpi_float, ...), which is
// Open MPI's ABI rather than MPI's API, hence the one implementation.

// #cgo LDFLAGS: -ldl
// #include <dlfcn.h>
// #include <stdint.h>
// #include <stdlib.h>
//
// typedef int (*init_thread_fn)(int*, char***, int, int*);
// typedef int (*comm_int_fn)(void*, int*);
// typedef int (*allreduce_fn)(const void*, void*, int, void*, void*, void*);
// typedef int (*bcast_fn)(void*, int, void*, int, void*);
// typedef int (*barrier_fn)(void*);
// typedef int (*finalize_fn)(void);
// typedef int (*abort_fn)(void*, int);
// typedef int (*set_errhandler_fn)(void*, void*);
// typedef int (*error_string_fn)(int, char*, int*);
//
// static void *lib, *comm_world, *t_float, *t_double, *t_byte, *op_sum, *errors_return;
// static init_thread_fn p_init;
// static comm_int_fn p_rank, p_size;
// static allreduce_fn p_allreduce;
// static bcast_fn p_bcast;
// static barrier_fn p_barrier;
// static finalize_fn p_finalize;
// static abort_fn p_abort;
// static set_errhandler_fn p_set_errhandler;
// static error_string_fn p_error_string;
//
// // aigc_mpi_load opens the library and finds every symbol: NULL, or what is missing.
// static const char* aigc_mpi_load(const char* path) {
//   // RTLD_GLOBAL: Open MPI's components, which it dlopens itself, resolve libmpi's symbols.
//   lib = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
//   if (!lib) return dlerror();
//   #define SYM(var, name) if (!(var = (void*)dlsym(lib, name))) return "no symbol " name " (not Open MPI?)";
//   SYM(p_init, "MPI_Init_thread") SYM(p_rank, "MPI_Comm_rank") SYM(p_size, "MPI_Comm_size")
//   SYM(p_allreduce, "MPI_Allreduce") SYM(p_bcast, "MPI_Bcast") SYM(p_barrier, "MPI_Barrier")
//   SYM(p_finalize, "MPI_Finalize") SYM(p_abort, "MPI_Abort") SYM(p_set_errhandler, "MPI_Comm_set_errhandler")
//   SYM(p_error_string, "MPI_Error_string")
//   SYM(comm_world, "ompi_mpi_comm_world") SYM(t_float, "ompi_mpi_float") SYM(t_double, "ompi_mpi_double")
//   SYM(t_byte, "ompi_mpi_byte") SYM(op_sum, "ompi_mpi_op_sum") SYM(errors_return, "ompi_mpi_errors_return")
//   #undef SYM
//   return 0;
// }
//
// // MPI_THREAD_FUNNELED: only the thread that initialised MPI calls it (aigc's MPI thread).
// static int aigc_mpi_init(int* provided) { return p_init(0, 0, 1, provided); }
// static int aigc_mpi_world(int* rank, int* size) {
//   int s = p_set_errhandler(comm_world, errors_return); // errors come back as codes
//   if (s) return s;
//   s = p_rank(comm_world, rank);
//   return s ? s : p_size(comm_world, size);
// }
// #define IN_PLACE ((void*)1)
// static int aigc_mpi_allreduce64(double* buf, int n) { return p_allreduce(IN_PLACE, buf, n, t_double, op_sum, comm_world); }
// static int aigc_mpi_allreduce32(float* buf, int n) { return p_allreduce(IN_PLACE, buf, n, t_float, op_sum, comm_world); }
// static int aigc_mpi_bcast(void* buf, int n, int root) { return p_bcast(buf, n, t_byte, root, comm_world); }
// static int aigc_mpi_barrier(void) { return p_barrier(comm_world); }
// static int aigc_mpi_finalize(void) { return p_finalize(); }
// static int aigc_mpi_abort(int code) { return p_abort(comm_world, code); }
// static void aigc_mpi_error(int code, char* buf, int cap) {
//   int n = 0;
//   if (p_error_string(code, buf, &n) || n >= cap) n = 0;
//   buf[n] = 0;
// }
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
	"unsafe"
)

// Loadable reports whether this build can load Open MPI (it has cgo on Linux).
const Loadable = true

// libMPI is the library loaded: Open MPI's soname, or $AIGC_MPI_LIB.
func libMPI() string {
	if p := os.Getenv("AIGC_MPI_LIB"); p != "" {
		return p
	}
	return "libmpi.so.40"
}

// maxCount is the most elements one MPI call moves (its count is a C int); larger buffers
// go in pieces.
const maxCount = 1 << 30

// mpiComm is MPI_COMM_WORLD. Every MPI call runs on one locked OS thread, the one that
// initialised MPI, as MPI_THREAD_FUNNELED requires; Go code on any goroutine hands its call
// to that thread.
type mpiComm struct {
	rank, size, localRank, localSize int
	calls                            chan func()
	mu                               sync.Mutex // one collective at a time, in the same order on every rank
	closed                           bool
}

func openMPI() (Comm, error) {
	lib := C.CString(libMPI())
	defer C.free(unsafe.Pointer(lib))
	if msg := C.aigc_mpi_load(lib); msg != nil {
		return nil, fmt.Errorf("launched by mpirun, but Open MPI's %s cannot be loaded (%s): install Open MPI (Debian: libopenmpi-dev openmpi-bin), or set AIGC_MPI_LIB to its libmpi.so",
			libMPI(), C.GoString(msg))
	}
	c := &mpiComm{calls: make(chan func())}
	go c.thread()
	var err error
	c.do(func() {
		var provided, rank, size C.int
		if s := C.aigc_mpi_init(&provided); s != 0 {
			err = fmt.Errorf("MPI_Init_thread failed (error %d)", int(s))
			return
		}
		if s := C.aigc_mpi_world(&rank, &size); s != 0 {
			err = mpiError("MPI_COMM_WORLD", s)
			return
		}
		c.rank, c.size = int(rank), int(size)
	})
	if err != nil {
		return nil, err
	}
	c.localRank, c.localSize = envInt("OMPI_COMM_WORLD_LOCAL_RANK", 0), envInt("OMPI_COMM_WORLD_LOCAL_SIZE", 1)
	return c, nil
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return def
}

// thread runs the MPI calls handed to it, on one OS thread for the process's life.
func (c *mpiComm) thread() {
	runtime.LockOSThread()
	for f := range c.calls {
		f()
	}
}

// do runs f on the MPI thread and waits for it.
func (c *mpiComm) do(f func()) {
	done := make(chan struct{})
	c.calls <- func() { f(); close(done) }
	<-done
}

func mpiError(what string, code C.int) error {
	buf := make([]byte, 512)
	C.aigc_mpi_error(code, (*C.char)(unsafe.Pointer(&buf[0])), C.int(len(buf)))
	msg := C.GoString((*C.char)(unsafe.Pointer(&buf[0])))
	if msg == "" {
		msg = "error " + strconv.Itoa(int(code))
	}
	return fmt.Errorf("%s: %s", what, msg)
}

func (c *mpiComm) Rank() int      { return c.rank }
func (c *mpiComm) Size() int      { return c.size }
func (c *mpiComm) LocalRank() int { return c.localRank }
func (c *mpiComm) LocalSize() int { return c.localSize }
func (c *mpiComm) String() string { return fmt.Sprintf("rank %d of %d (Open MPI)", c.rank, c.size) }

// collective runs one MPI call on the MPI thread, timed.
func (c *mpiComm) collective(what string, call func() C.int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New(what + ": MPI was finalized")
	}
	defer timed(time.Now())
	enter(what)
	defer leave()
	var s C.int
	c.do(func() { s = call() })
	if s != 0 {
		return mpiError(what, s)
	}
	return nil
}

// inPieces runs a collective over elements [0, n) of a buffer, at most maxCount at a time.
func (c *mpiComm) inPieces(what string, n int, call func(off, count int) C.int) error {
	for off := 0; off < n; off += maxCount {
		count := min(maxCount, n-off)
		if err := c.collective(what, func() C.int { return call(off, count) }); err != nil {
			return err
		}
	}
	return nil
}

func (c *mpiComm) AllReduce(buf []float64) error {
	return c.inPieces("MPI_Allreduce", len(buf), func(off, n int) C.int {
		return C.aigc_mpi_allreduce64((*C.double)(unsafe.Pointer(&buf[off])), C.int(n))
	})
}

func (c *mpiComm) AllReduce32(buf []float32) error {
	return c.inPieces("MPI_Allreduce", len(buf), func(off, n int) C.int {
		return C.aigc_mpi_allreduce32((*C.float)(unsafe.Pointer(&buf[off])), C.int(n))
	})
}

func (c *mpiComm) Broadcast(buf []byte, root int) error {
	return c.inPieces("MPI_Bcast", len(buf), func(off, n int) C.int {
		return C.aigc_mpi_bcast(unsafe.Pointer(&buf[off]), C.int(n), C.int(root))
	})
}

func (c *mpiComm) Barrier() error {
	return c.collective("MPI_Barrier", func() C.int { return C.aigc_mpi_barrier() })
}

func (c *mpiComm) Abort(code int) {
	c.do(func() { C.aigc_mpi_abort(C.int(code)) })
	os.Exit(code) // MPI_Abort does not return; should it, the process still stops
}

func (c *mpiComm) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	var s C.int
	c.do(func() { s = C.aigc_mpi_finalize() })
	if s != 0 {
		return mpiError("MPI_Finalize", s)
	}
	return nil
}
