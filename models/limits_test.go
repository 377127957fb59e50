package models

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/graph/exec"
	"github.com/aigc-go/aigc/internal/rng"
)

// A model too large for the memory budget is refused before its tensors are allocated,
// in one line naming the key that made it so; the budget is whole again afterwards.
func TestBuildBeyondTheMemoryBudget(t *testing.T) {
	exec.SetMemoryBudget(8 << 20)
	defer exec.SetMemoryBudget(0)
	fam, _ := Lookup("vae")
	cfg := defaultVAE(t, "hidden=4000")
	_, err := fam.Build(cfg, Env{ImageH: 28, ImageW: 28}, rng.New(1))
	var me *exec.MemoryError
	if !errors.As(err, &me) || !strings.Contains(err.Error(), "reduce hidden=4000 (default 400)") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("got %v", err)
	}
	// What the failed build reserved is not held, and a closed model returns its share.
	if n := exec.Reserved(); n != 0 {
		t.Fatalf("%d bytes still reserved after a failed build", n)
	}
	m, err := fam.Build(defaultVAE(t, "hidden=64"), Env{ImageH: 28, ImageW: 28}, rng.New(1))
	if err != nil {
		t.Fatal(err)
	}
	if exec.Reserved() == 0 {
		t.Fatal("a built model reserved nothing")
	}
	m.Close()
	if n := exec.Reserved(); n != 0 {
		t.Fatalf("%d bytes still reserved after Close", n)
	}
}

// Sizes taken from data or from a checkpoint's metadata are bounded before any model is
// built from them.
func TestEnvBounds(t *testing.T) {
	fam, _ := Lookup("vae")
	_, err := fam.Build(defaultVAE(t), Env{ImageH: 100000, ImageW: 28}, rng.New(1))
	if err == nil || !strings.Contains(err.Error(), "image_h 100000 is beyond the limit of 4096") {
		t.Fatalf("got %v", err)
	}

	m := newVAE(t, Env{ImageH: 28, ImageW: 28}, "hidden=16", "latent=3")
	extra := map[string]string{}
	StateMeta(m, Env{ImageH: 28, ImageW: 28}, extra)
	extra[keyImageH] = "100000"
	meta := checkpoints.Meta{Family: "vae", Config: configs.JSON(m.cfg), Extra: extra}
	path := filepath.Join(t.TempDir(), "huge.safetensors")
	if err := checkpoints.Write(path, StateTensors(m), meta.Encode()); err != nil {
		t.Fatal(err)
	}
	_, err = Open(path, "vae")
	if err == nil || err.Error() != "checkpoint "+path+": metadata image_h 100000 is beyond the limit of 4096" {
		t.Fatalf("got %v", err)
	}
}
