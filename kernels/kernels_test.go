package kernels

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// cudaTools returns the path of a CUDA tool, skipping the test when it is missing, unless
// AIGC_REQUIRE_CUDA=1 (as CI sets, having installed the toolkit).
func cudaTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("AIGC_REQUIRE_CUDA") == "1" {
			t.Fatalf("%s not found (AIGC_REQUIRE_CUDA=1): install nvidia-cuda-toolkit", name)
		}
		t.Skipf("%s not found: install nvidia-cuda-toolkit (Debian non-free) to check the PTX", name)
	}
	return p
}

// The committed PTX is what nvcc makes of the committed sources (gen.sh), when this nvcc
// is the release that made it (another release writes other PTX from the same source).
func TestPTXMatchesSources(t *testing.T) {
	nvcc := cudaTool(t, "nvcc")
	v, err := exec.Command(nvcc, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	release := ""
	for _, line := range strings.Split(string(v), "\n") {
		if strings.HasPrefix(line, "Cuda compilation tools") {
			release = line
		}
	}
	if ptx, _ := Files.ReadFile("elementwise.ptx"); release == "" || !bytes.Contains(ptx, []byte("// "+release+"\n")) {
		t.Skipf("nvcc is %q, not the release the committed PTX was made with", release)
	}
	dir := t.TempDir()
	for _, src := range Sources() {
		out := filepath.Join(dir, strings.TrimSuffix(src, ".cu")+".ptx")
		cmd := exec.Command(nvcc, "-ptx", "-arch=compute_80", "-O3", "-o", out, src)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nvcc %s: %v\n%s", src, err, b)
		}
		got, _ := os.ReadFile(out)
		want, err := Files.ReadFile(filepath.Base(out))
		if err != nil {
			t.Fatalf("%s has no committed PTX: run go generate ./kernels", src)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: the committed PTX is stale: run go generate ./kernels", src)
		}
	}
}

// Every module assembles for the H100/H200's sm_90 (and its kernels' resources fit).
func TestPTXAssembles(t *testing.T) {
	ptxas := cudaTool(t, "ptxas")
	for name, ptx := range Modules() {
		f := filepath.Join(t.TempDir(), name+".ptx")
		if err := os.WriteFile(f, ptx, 0o644); err != nil {
			t.Fatal(err)
		}
		if b, err := exec.Command(ptxas, "-arch=sm_90", "-o", os.DevNull, f).CombinedOutput(); err != nil {
			t.Errorf("ptxas %s: %v\n%s", name, err, b)
		}
	}
}

// Every source has its PTX and is compiled into the emulation (kernels.inc), and no two
// modules define one kernel.
func TestModules(t *testing.T) {
	mods := Modules()
	inc, _ := Files.ReadFile("kernels.inc")
	seen := map[string]string{}
	for _, src := range Sources() {
		name := strings.TrimSuffix(src, ".cu")
		if mods[name] == nil {
			t.Errorf("%s has no PTX", src)
		}
		if !bytes.Contains(inc, []byte(`#include "`+src+`"`)) {
			t.Errorf("kernels.inc does not include %s", src)
		}
		for _, e := range Entries(mods[name]) {
			if prev, dup := seen[e]; dup {
				t.Errorf("kernel %s in %s and %s", e, prev, name)
			}
			seen[e] = name
		}
	}
	if len(seen) < 50 {
		t.Errorf("%d kernels in the PTX", len(seen))
	}
}
