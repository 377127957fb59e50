package checkpoints

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

// dirNames lists a directory, so tests can see that no temporary file is
// left behind.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteAtomicCreatesAndReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "grid.png")
	if err := WriteAtomic(path, writeString("first")); err != nil {
		t.Fatal(err)
	}
	// Larger than the write buffer, so the data is flushed in pieces.
	big := strings.Repeat("0123456789", 100_000)
	if err := WriteAtomic(path, writeString(big)); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != big {
		t.Errorf("file holds %d bytes, want %d", len(got), len(big))
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"grid.png"}) {
		t.Errorf("directory holds %q", names)
	}
}

// TestWriteAtomicMode checks the result gets the permissions os.Create would
// give (0666 less the umask), not the 0600 of os.CreateTemp.
func TestWriteAtomicMode(t *testing.T) {
	dir := t.TempDir()
	ref, err := os.Create(filepath.Join(dir, "ref"))
	if err != nil {
		t.Fatal(err)
	}
	ref.Close()
	refInfo, err := os.Stat(ref.Name())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "out.npy")
	if err := WriteAtomic(path, writeString("x")); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != refInfo.Mode().Perm() {
		t.Errorf("mode %v, want %v as os.Create gives", info.Mode().Perm(), refInfo.Mode().Perm())
	}
}

func TestWriteAtomicFailureKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "latest.safetensors")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteAtomic(path, func(w io.Writer) error {
		// Enough to reach the temporary file before failing.
		if _, err := w.Write(make([]byte, 1<<20)); err != nil {
			return err
		}
		return boom
	})
	checkErr(t, err, "cannot write "+path+": boom")
	if !errors.Is(err, boom) {
		t.Errorf("error %v does not wrap the callback's error", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Errorf("file now holds %q, want the old content", got)
	}
	if names := dirNames(t, dir); !slices.Equal(names, []string{"latest.safetensors"}) {
		t.Errorf("directory holds %q, want no temporary files", names)
	}
}

func TestWriteAtomicPanicLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x")
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic was swallowed")
			}
		}()
		WriteAtomic(path, func(w io.Writer) error { panic("bug") })
	}()
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("directory holds %q, want nothing", names)
	}
}

func TestWriteAtomicUnwritable(t *testing.T) {
	dir := t.TempDir()
	// A path under a regular file fails for every user, root included.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(file, "grid.png")
	checkErr(t, WriteAtomic(path, writeString("x")), "cannot write "+path+": ", "not a directory")

	missing := filepath.Join(dir, "no", "such", "dir", "grid.png")
	checkErr(t, WriteAtomic(missing, writeString("x")), "cannot write "+missing+": ", "no such file or directory")

	if os.Geteuid() == 0 {
		t.Log("running as root, which may write anywhere: skipping the read-only directory check")
		return
	}
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(ro, "grid.png")
	checkErr(t, WriteAtomic(path, writeString("x")), "cannot write "+path+": ", "permission denied")
}

func TestWriteAtomicOverDirectory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	checkErr(t, WriteAtomic(path, writeString("x")), "cannot write "+path+": ")
	if names := dirNames(t, dir); !slices.Equal(names, []string{"out"}) {
		t.Errorf("directory holds %q", names)
	}
}

func TestWriteRejectsBadTensorsWithoutTouchingFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "m.safetensors")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Write(path, []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1}}}, nil)
	checkErr(t, err, fmt.Sprintf("cannot write %s: tensor \"w\" has 1 values", path))
	if got, _ := os.ReadFile(path); string(got) != "old" {
		t.Errorf("file now holds %q", got)
	}
	if names := dirNames(t, dir); len(names) != 1 {
		t.Errorf("directory holds %q", names)
	}
}
