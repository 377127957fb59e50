package train

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/aigc-go/aigc/checkpoints"
)

func TestCheckOutput(t *testing.T) {
	run := t.TempDir()
	trainFor(t, run, 2)
	other := t.TempDir()
	// A copy of a training checkpoint outside any run directory, a weights-only file, a
	// directory, a FIFO, a symbolic link and a device.
	data, _ := os.ReadFile(filepath.Join(run, LatestFile))
	os.WriteFile(filepath.Join(other, "copy.safetensors"), data, 0o644)
	checkpoints.Write(filepath.Join(other, "weights.safetensors"), []checkpoints.Tensor{{Name: "w", Shape: []int{1}, Data: []float32{1}}}, nil)
	os.Mkdir(filepath.Join(other, "dir.png"), 0o755)
	if err := syscall.Mkfifo(filepath.Join(other, "fifo.png"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(other, "real.png"), []byte("x"), 0o644)
	os.Symlink(filepath.Join(other, "real.png"), filepath.Join(other, "link.png"))

	cases := []struct {
		path string
		kind Output
		want string // "" for accepted; else part of the error; format for accepted ones
	}{
		{filepath.Join(other, "new.png"), ImageOutput, ""},
		{filepath.Join(other, "NEW.NPY"), ImageOutput, ""},
		{filepath.Join(other, "real.png"), ImageOutput, ""}, // a regular file of its kind is replaced
		{filepath.Join(other, "x.jpg"), ImageOutput, "images are written as .png or .npy: the extension names the format"},
		{filepath.Join(other, "noext"), ImageOutput, "images are written as .png or .npy"},
		{filepath.Join(run, BestFile), ImageOutput, "images are written as .png or .npy"},
		{filepath.Join(run, LatestFile), WeightsOutput, "is a file of the run directory " + run},
		{filepath.Join(run, ConfigFile), TextOutput, "text are written as .txt"},
		{filepath.Join(other, "copy.safetensors"), WeightsOutput, "is a training checkpoint (it has optimiser state)"},
		{filepath.Join(other, "weights.safetensors"), WeightsOutput, ""},
		{filepath.Join(other, "dir.png"), ImageOutput, "is a directory: give a file name in it"},
		{filepath.Join(other, "fifo.png"), ImageOutput, "is not a regular file (a FIFO)"},
		{filepath.Join(other, "link.png"), ImageOutput, "is a symbolic link"},
		{"/dev/null", ImageOutput, "/dev/null is not a regular file (a device)"},
		{filepath.Join(other, "none", "x.png"), ImageOutput, "the directory " + filepath.Join(other, "none") + " does not exist"},
		{filepath.Join(other, "real.png", "x.png"), ImageOutput, filepath.Join(other, "real.png") + " is not a directory"},
	}
	for _, c := range cases {
		_, err := CheckOutput(c.path, c.kind)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.path, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want %q", c.path, err, c.want)
		}
	}
	if f, err := CheckOutput(filepath.Join(other, "a.NPY"), ImageOutput); f != "npy" || err != nil {
		t.Fatalf("format %q, %v", f, err)
	}
	// A device node under an image's name, where this process may make one (root, outside
	// the more locked-down containers).
	dev := filepath.Join(other, "dev.png")
	if err := syscall.Mknod(dev, syscall.S_IFCHR|0o644, 1<<8|3); err == nil {
		if _, err := CheckOutput(dev, ImageOutput); err == nil || !strings.Contains(err.Error(), "is not a regular file (a device)") {
			t.Fatalf("device: %v", err)
		}
	}
}
