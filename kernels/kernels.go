// Package kernels holds aigc's CUDA C kernels (one file per op family, *.cu), their PTX
// (compiled with nvcc for compute_80, committed, embedded here), and the Driver interface
// through which the CUDA device (kernels/cuda) reaches a GPU: the real one over the CUDA
// driver API and cuBLAS (build tag aigc_cuda), or the host emulation of the tests (build
// tag aigc_emu, emu.cpp), which runs the same kernels' source on the CPU.
//
// Regenerate the PTX after changing a kernel with `go generate ./kernels` (needs nvcc);
// the tests check that the committed PTX is what the sources give.
package kernels

import (
	"embed"
	"path"
	"slices"
	"sort"
	"strings"
)

//go:generate sh gen.sh

// Files holds the kernel sources and their PTX. (Embedding the sources also makes Go
// rebuild the emulation when a kernel changes.)
//
//go:embed *.cu *.cuh *.ptx kernels.inc gen.sh
var Files embed.FS

// Modules returns each kernel file's PTX by its name ("elementwise").
func Modules() map[string][]byte {
	out := map[string][]byte{}
	ents, _ := Files.ReadDir(".")
	for _, e := range ents {
		if name, ok := strings.CutSuffix(e.Name(), ".ptx"); ok {
			b, _ := Files.ReadFile(e.Name())
			out[name] = b
		}
	}
	return out
}

// Sources lists the kernel files (*.cu), sorted.
func Sources() []string {
	m, _ := fsGlob("*.cu")
	sort.Strings(m)
	return m
}

func fsGlob(pattern string) ([]string, error) {
	ents, err := Files.ReadDir(".")
	var out []string
	for _, e := range ents {
		if ok, _ := path.Match(pattern, e.Name()); ok {
			out = append(out, e.Name())
		}
	}
	return out, err
}

// Entries lists the kernels a PTX module defines (its .entry names).
func Entries(ptx []byte) []string {
	var out []string
	for _, line := range strings.Split(string(ptx), "\n") {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), ".visible .entry "); ok {
			if i := strings.IndexByte(rest, '('); i > 0 {
				out = append(out, rest[:i])
			}
		}
	}
	return out
}

// allEntries lists every kernel of the embedded PTX, sorted.
func allEntries() []string {
	var out []string
	for _, ptx := range Modules() {
		out = append(out, Entries(ptx)...)
	}
	slices.Sort(out)
	return out
}
