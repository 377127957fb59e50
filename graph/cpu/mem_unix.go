//go:build unix

package cpu

import (
	"sync"
	"syscall"
	"unsafe"
)

// The device's own memory (programs' arenas and scratch) is mapped from the operating
// system rather than taken from Go's heap: the garbage collector lets the heap grow to
// twice what is live before it collects, and arenas of hundreds of megabytes that live as
// long as their program would double the process's memory for nothing. Free returns the
// memory to the system at once.
var mapped = struct {
	sync.Mutex
	regions map[unsafe.Pointer][]byte
}{regions: map[unsafe.Pointer][]byte{}}

// allocMem returns n zeroed elements of size bytes each, mapped anonymously.
func allocMem(n, size int) (unsafe.Pointer, error) {
	if n == 0 {
		return nil, nil
	}
	b, err := syscall.Mmap(-1, 0, n*size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, err
	}
	p := unsafe.Pointer(&b[0])
	mapped.Lock()
	mapped.regions[p] = b
	mapped.Unlock()
	return p, nil
}

// freeMem unmaps memory from allocMem; other memory is left to the garbage collector.
func freeMem(p unsafe.Pointer) {
	mapped.Lock()
	b, ok := mapped.regions[p]
	delete(mapped.regions, p)
	mapped.Unlock()
	if ok {
		syscall.Munmap(b)
	}
}
