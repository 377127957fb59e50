package checkpoints

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
)

// WriteAtomic writes a file through write so that path holds either its old
// content or the complete new content, never a partial file, even if the
// process or machine dies midway: the data goes to a temporary file in the
// same directory, is flushed to disk, and is then renamed over path. On error
// the temporary file is removed, path is left as it was, and the error names
// path.
func WriteAtomic(path string, write func(w io.Writer) error) error {
	fail := func(err error) error { return fmt.Errorf("cannot write %s: %w", path, err) }
	if path == "" {
		return errors.New("cannot write: empty file name")
	}
	dir := filepath.Dir(path)
	// The temporary name starts with a dot so that a leftover from a
	// power cut stays out of the way of globs like *.safetensors.
	f, err := createTemp(dir, "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return fail(err)
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		// Runs on errors and on a panic in write alike.
		if !renamed {
			f.Close()
			os.Remove(tmp)
		}
	}()

	bw := bufio.NewWriterSize(f, 256<<10)
	if err := write(bw); err != nil {
		return fail(err)
	}
	if err := bw.Flush(); err != nil {
		return fail(err)
	}
	// Without this, a crash shortly after the rename can leave path naming
	// a file whose data never reached the disk: empty or garbage.
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fail(err)
	}
	renamed = true
	// The rename lives in the directory; until the directory is synced a
	// crash may undo it.
	if err := syncDir(dir); err != nil {
		return fail(err)
	}
	return nil
}

// Write writes a safetensors file atomically; see Encode and WriteAtomic.
func Write(path string, tensors []Tensor, meta map[string]string) error {
	return WriteAtomic(path, func(w io.Writer) error {
		return Encode(w, tensors, meta)
	})
}

// createTemp is os.CreateTemp with the permissions os.Create uses. CreateTemp
// makes files mode 0600, and since the temporary file becomes the output,
// checkpoints and images would end up unreadable to anyone but their writer.
// Mode 0666 lets the umask decide, as for any other file the user creates.
func createTemp(dir, prefix string) (*os.File, error) {
	for try := 0; ; try++ {
		name := filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) && try < 100 {
			continue
		}
		return f, err
	}
}

// syncDir flushes a directory's entries to disk.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		// Directories cannot be opened for syncing there; a rename is
		// as durable as it gets.
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	err = d.Sync()
	// Some file systems cannot sync a directory and say so; the rename
	// has still happened, which is the best they offer.
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, errors.ErrUnsupported) {
		return nil
	}
	return err
}
