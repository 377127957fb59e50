package graph

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/aigc-go/aigc/graph/exec"
)

// MemoryLimitEnv, when set (bytes, or with a k, M, G suffix), replaces the available
// memory as the budget: for tests, and for sharing a machine.
const MemoryLimitEnv = "AIGC_MEMORY_LIMIT"

// SetMemoryBudget makes every model built from now on reserve its parameters, optimiser
// state, inputs and (on the CPU) activations against the host's available memory, so that
// a size too large for the machine fails in one line before anything is allocated.
func SetMemoryBudget() error {
	limit, err := MemoryBudget()
	if err != nil {
		return err
	}
	exec.SetMemoryBudget(limit)
	return nil
}

// MemoryBudget is AIGC_MEMORY_LIMIT, or nine tenths of the memory available now (the
// kernel's MemAvailable, or the cgroup's limit when that is lower), or 0 (no limit) where
// neither can be read.
func MemoryBudget() (int64, error) {
	if s := os.Getenv(MemoryLimitEnv); s != "" {
		n, err := ParseBytes(s)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("%s=%q: want a positive size such as 4G or 512M", MemoryLimitEnv, s)
		}
		return n, nil
	}
	avail := meminfo("MemAvailable")
	if c := cgroupLimit(); c > 0 && (avail == 0 || c < avail) {
		avail = c
	}
	return avail / 10 * 9, nil
}

// ParseBytes reads 4096, 64k, 512M or 4G (powers of 1024).
func ParseBytes(s string) (int64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty size")
	}
	mult := int64(1)
	switch strings.ToUpper(s[len(s)-1:]) {
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	}
	if mult > 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

// meminfo returns a /proc/meminfo field in bytes (0 when unreadable).
func meminfo(field string) int64 {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || name != field {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err == nil {
			return kb << 10
		}
	}
	return 0
}

// cgroupLimit is the memory limit of this process's cgroup (v2), less what it uses now,
// or 0 when there is none.
func cgroupLimit() int64 {
	read := func(name string) int64 {
		b, err := os.ReadFile("/sys/fs/cgroup/" + name)
		if err != nil {
			return 0
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			return 0 // "max"
		}
		return n
	}
	limit := read("memory.max")
	if limit <= 0 {
		return 0
	}
	return max(limit-read("memory.current"), 1)
}
