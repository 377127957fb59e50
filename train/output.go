package train

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/aigc-go/aigc/checkpoints"
)

// Output is a kind of file a command writes at a user's request, named by its extensions.
type Output struct {
	What       string   // "samples", "weights"
	Extensions []string // the first is the default
}

// The kinds of output: images (a PNG grid or an .npy array), generated text, exported
// weights.
var (
	ImageOutput   = Output{"images", []string{".png", ".npy"}}
	TextOutput    = Output{"text", []string{".txt"}}
	WeightsOutput = Output{"weights", []string{".safetensors"}}
)

// runFiles are what a run directory holds for training: no command's output may replace
// them.
var runFiles = []string{LatestFile, BestFile, ConfigFile, MetricsFile, lockFile}

// CheckOutput is the one policy for every file a command writes on request (sample,
// export, eval's figures): its extension names its format and must be one of kind's; a
// path that exists must be a regular file (not a directory, symbolic link, device, FIFO
// or socket); it is never one of a run directory's own files, nor a training checkpoint
// (one with optimiser state), since replacing either loses the run. It returns the
// format: the extension without its dot.
func CheckOutput(path string, kind Output) (format string, err error) {
	ext := strings.ToLower(filepath.Ext(path))
	badExt := !slices.Contains(kind.Extensions, ext)
	info, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		if err := checkDir(path); err != nil {
			return "", err
		}
	case err != nil:
		return "", err
	case info.IsDir():
		return "", fmt.Errorf("%s is a directory: give a file name in it, e.g. %s", path, filepath.Join(path, kind.What+kind.Extensions[0]))
	case info.Mode()&fs.ModeSymlink != 0:
		return "", fmt.Errorf("%s is a symbolic link: write to a new path, or to the file it names", path)
	case !info.Mode().IsRegular():
		return "", fmt.Errorf("%s is not a regular file (%s): write to a file", path, modeName(info.Mode()))
	}
	if badExt {
		return "", fmt.Errorf("%s: %s are written as %s: the extension names the format", path, kind.What, strings.Join(kind.Extensions, " or "))
	}
	if err != nil { // a new file
		return ext[1:], nil
	}
	if slices.Contains(runFiles, filepath.Base(path)) && isRunDir(filepath.Dir(path)) {
		return "", fmt.Errorf("%s is a file of the run directory %s: writing %s over it would lose the run; choose another name", path, filepath.Dir(path), kind.What)
	}
	if ext == ".safetensors" && isTrainingCheckpoint(path) {
		return "", fmt.Errorf("%s is a training checkpoint (it has optimiser state): writing %s over it would make the run unresumable; choose another name", path, kind.What)
	}
	return ext[1:], nil
}

// checkDir says clearly when the file's directory is missing or is not a directory.
func checkDir(path string) error {
	dir := filepath.Dir(path)
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: the directory %s does not exist", path, dir)
	case err != nil:
		return err
	case !info.IsDir():
		return fmt.Errorf("%s: %s is not a directory", path, dir)
	}
	return nil
}

func modeName(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.String()
}

// isRunDir reports whether dir holds a training run: its config or metrics log.
func isRunDir(dir string) bool {
	for _, name := range []string{ConfigFile, MetricsFile, LatestFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// isTrainingCheckpoint reports whether the safetensors file at path holds optimiser
// state. A file that cannot be read as one is not a checkpoint to protect.
func isTrainingCheckpoint(path string) bool {
	f, err := checkpoints.Read(path)
	if err != nil {
		return false
	}
	for _, name := range f.Names() {
		if strings.HasPrefix(name, "optim.") {
			return true
		}
	}
	return false
}
