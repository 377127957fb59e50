package exec

import (
	"errors"
	"testing"
)

func TestReserve(t *testing.T) {
	SetMemoryBudget(1000)
	defer SetMemoryBudget(0)
	if err := Reserve("a", 600); err != nil {
		t.Fatal(err)
	}
	err := Reserve("b", 600)
	var me *MemoryError
	if !errors.As(err, &me) || me.Need != 1200 || me.Available != 1000 || me.What != "b" {
		t.Fatalf("got %v", err)
	}
	if err.Error() != "needs 1.2 kB of memory (at b), but 1 kB is available" {
		t.Fatalf("message %q", err)
	}
	Release(600)
	if err := Reserve("b", 600); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	SetMemoryBudget(0)
	if err := Reserve("c", 1<<62); err != nil {
		t.Fatalf("no budget: %v", err)
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{999: "999 bytes", 1000: "1 kB", 753_000_000: "753 MB", 30_500_000_000: "30.5 GB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
