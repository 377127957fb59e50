package exec

import (
	"fmt"
	"sync"
)

// A process's memory budget: what the host has available when a command starts. Every
// large allocation of a model (parameters with their gradients and optimiser moments,
// a program's arena and scratch on the CPU) is reserved against it first, so that a
// size the machine cannot hold is one clear error, not the runtime's out-of-memory crash.
var (
	budgetMu sync.Mutex
	budget   int64 // 0: no budget
	reserved int64
)

// SetMemoryBudget sets the bytes the process may reserve (0: no limit) and clears the
// reservations.
func SetMemoryBudget(bytes int64) {
	budgetMu.Lock()
	budget, reserved = bytes, 0
	budgetMu.Unlock()
}

// MemoryError is a reservation beyond the budget.
type MemoryError struct {
	What      string // what needed the memory
	Need      int64  // bytes reserved so far, this one included
	Available int64
}

func (e *MemoryError) Error() string {
	return fmt.Sprintf("needs %s of memory (at %s), but %s is available", Bytes(e.Need), e.What, Bytes(e.Available))
}

// Reserve takes bytes from the budget for what, or returns a *MemoryError.
func Reserve(what string, bytes int64) error {
	budgetMu.Lock()
	defer budgetMu.Unlock()
	if budget > 0 && reserved+bytes > budget {
		return &MemoryError{What: what, Need: reserved + bytes, Available: budget}
	}
	reserved += bytes
	return nil
}

// Reserved is the bytes reserved now.
func Reserved() int64 {
	budgetMu.Lock()
	defer budgetMu.Unlock()
	return reserved
}

// Release returns reserved bytes.
func Release(bytes int64) {
	budgetMu.Lock()
	reserved = max(reserved-bytes, 0)
	budgetMu.Unlock()
}

// Bytes formats a size for people: 512 MB, 1.2 TB.
func Bytes(n int64) string {
	f := float64(n)
	for _, u := range []string{"bytes", "kB", "MB", "GB", "TB", "PB"} {
		if f < 1000 || u == "PB" {
			if u == "bytes" {
				return fmt.Sprintf("%d bytes", n)
			}
			return fmt.Sprintf("%.3g %s", f, u)
		}
		f /= 1000
	}
	return ""
}
