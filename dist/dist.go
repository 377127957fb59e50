// Package dist is aigc's communicator for data-parallel training across processes: each
// process (a rank) trains a replica of the model on its shard of every batch, and the ranks
// sum their gradients before each optimiser step, as PyTorch's DistributedDataParallel
// and Horovod do.
//
// Processes started by Open MPI's mpirun communicate through Open MPI itself (libmpi.so.40,
// loaded at run time, so the aigc a user builds runs on machines without MPI, and under
// mpirun where Open MPI is installed). A process started any other way is a world of one,
// whose collectives do nothing.
package dist

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"
	"sync"
	"time"
	"unsafe"
)

// Comm is a group of processes that train one model together.
type Comm interface {
	Rank() int      // this process's number, 0 to Size()-1; rank 0 writes the run's files
	Size() int      // how many processes
	LocalRank() int // this process's number among those on its machine
	LocalSize() int // how many processes share its machine (and its cores)
	// AllReduce replaces buf, on every rank, by the element-wise sum of every rank's buf
	// (all of one length).
	AllReduce(buf []float64) error
	AllReduce32(buf []float32) error
	// Broadcast replaces buf on every rank by root's buf (all of one length).
	Broadcast(buf []byte, root int) error
	Barrier() error
	// Abort stops every rank of the world (a rank that cannot go on: the others would wait
	// for it in their next collective forever).
	Abort(code int)
	Close() error
}

var (
	worldMu sync.Mutex
	world   Comm = single{}
)

// World returns the processes this one trains with: a world of one unless Start joined
// an MPI job.
func World() Comm {
	worldMu.Lock()
	defer worldMu.Unlock()
	return world
}

// Use makes c the world (tests use a world of their own) and returns the previous one.
func Use(c Comm) Comm {
	worldMu.Lock()
	defer worldMu.Unlock()
	prev := world
	world = c
	return prev
}

// Launched reports whether this process was started by mpirun (Open MPI's, or a PMIx
// launcher such as Slurm's srun --mpi=pmix) as one rank of several.
func Launched() bool {
	for _, k := range []string{"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"} {
		if os.Getenv(k) != "" {
			return true
		}
	}
	return false
}

// Start joins the MPI job this process was launched in, when it was (Launched), and makes
// it the world. RANK, WORLD_SIZE and LOCAL_RANK, when set (as torchrun sets them), must
// agree with MPI's numbering.
func Start() (Comm, error) {
	if !Launched() {
		return World(), nil
	}
	c, err := openMPI()
	if err != nil {
		return nil, err
	}
	if err := checkEnv(c); err != nil {
		c.Close()
		return nil, err
	}
	Use(c)
	return c, nil
}

// checkEnv compares torchrun's variables, when set, with the communicator's numbering.
func checkEnv(c Comm) error {
	for _, v := range []struct {
		name string
		got  int
	}{{"RANK", c.Rank()}, {"WORLD_SIZE", c.Size()}, {"LOCAL_RANK", c.LocalRank()}} {
		s := os.Getenv(v.name)
		if s == "" {
			continue
		}
		if n, err := strconv.Atoi(s); err != nil || n != v.got {
			return fmt.Errorf("%s=%s, but MPI numbers this process %d (unset %s, or launch with matching numbers)", v.name, s, v.got, v.name)
		}
	}
	return nil
}

// Stop leaves the world (MPI_Finalize), making it a world of one again.
func Stop() error {
	c := Use(single{})
	return c.Close()
}

// single is the world of one process: every collective leaves its buffer as it is.
type single struct{}

func (single) Rank() int                   { return 0 }
func (single) Size() int                   { return 1 }
func (single) LocalRank() int              { return 0 }
func (single) LocalSize() int              { return 1 }
func (single) AllReduce([]float64) error   { return nil }
func (single) AllReduce32([]float32) error { return nil }
func (single) Broadcast([]byte, int) error { return nil }
func (single) Barrier() error              { return nil }
func (single) Abort(code int)              { os.Exit(code) }
func (single) Close() error                { return nil }
func (s single) String() string            { return "one process" }

// inFlight is the collective this process is in, and since when: a collective that does
// not end once the process is told to stop waits for a rank that has died.
var inFlight struct {
	mu    sync.Mutex
	what  string
	since time.Time
}

// enter and leave bracket a collective.
func enter(what string) {
	inFlight.mu.Lock()
	inFlight.what, inFlight.since = what, time.Now()
	inFlight.mu.Unlock()
}

func leave() {
	inFlight.mu.Lock()
	inFlight.what = ""
	inFlight.mu.Unlock()
}

// Waiting returns the collective this process has been in for at least d, if any.
func Waiting(d time.Duration) (string, bool) {
	inFlight.mu.Lock()
	defer inFlight.mu.Unlock()
	return inFlight.what, inFlight.what != "" && time.Since(inFlight.since) >= d
}

// Time is the time a process spent in collectives (waiting for the other ranks and moving
// data), for the communication share of a step.
var Time struct {
	mu sync.Mutex
	d  time.Duration
}

// timed adds the time since start to Time.
func timed(start time.Time) {
	Time.mu.Lock()
	Time.d += time.Since(start)
	Time.mu.Unlock()
}

// Spent returns the time spent in collectives so far.
func Spent() time.Duration {
	Time.mu.Lock()
	defer Time.mu.Unlock()
	return Time.d
}

// BroadcastBytes gives every rank root's data, of any length (the others pass nil).
func BroadcastBytes(c Comm, data []byte, root int) ([]byte, error) {
	if c.Size() == 1 {
		return data, nil
	}
	n := make([]byte, 8)
	binary.LittleEndian.PutUint64(n, uint64(len(data)))
	if err := c.Broadcast(n, root); err != nil {
		return nil, err
	}
	if c.Rank() != root {
		data = make([]byte, binary.LittleEndian.Uint64(n))
	}
	return data, c.Broadcast(data, root)
}

// BroadcastFloats gives every rank root's values of bufs (of the same sizes everywhere),
// in one message.
func BroadcastFloats(c Comm, bufs [][]float32, root int) error {
	if c.Size() == 1 {
		return nil
	}
	total := 0
	for _, b := range bufs {
		total += len(b)
	}
	fused := make([]float32, 0, total)
	for _, b := range bufs {
		fused = append(fused, b...)
	}
	if err := c.Broadcast(bytesOf(fused), root); err != nil {
		return err
	}
	for _, b := range bufs {
		n := copy(b, fused)
		fused = fused[n:]
	}
	return nil
}

// bytesOf is the memory of a float32 slice, as bytes.
func bytesOf(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&f[0])), 4*len(f))
}

// Any reports whether flag is true on any rank.
func Any(c Comm, flag bool) (bool, error) {
	v := []float64{0}
	if flag {
		v[0] = 1
	}
	err := c.AllReduce(v)
	return v[0] > 0, err
}

// Same checks that every rank holds the same value of what (a setting, a fingerprint),
// naming the first rank that differs from rank 0.
func Same(c Comm, what string, value uint64) error {
	if c.Size() == 1 {
		return nil
	}
	v := make([]float64, 2*c.Size()) // each rank's value as two exact halves
	v[2*c.Rank()] = float64(value >> 32)
	v[2*c.Rank()+1] = float64(value & math.MaxUint32)
	if err := c.AllReduce(v); err != nil {
		return err
	}
	for r := 1; r < c.Size(); r++ {
		if v[2*r] != v[0] || v[2*r+1] != v[1] {
			return fmt.Errorf("rank %d has another %s than rank 0", r, what)
		}
	}
	return nil
}
