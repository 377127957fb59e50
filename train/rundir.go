package train

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// lockFile names the process training in a run directory (its PID and command line),
// for the message another process gets. The lock itself is an advisory flock on the
// directory, which the kernel drops when its holder exits, however it exits: a killed
// run never leaves a directory locked, and a failed start leaves no file behind.
const lockFile = ".lock"

// PreviousDir is where --fresh sets aside the checkpoints, metrics and config of the run it
// replaces, until the new run has saved a checkpoint of its own.
const PreviousDir = "previous"

// ErrLocked is returned when another process trains in the run directory.
var ErrLocked = errors.New("run directory in use")

// RunLock is a held lock on a run directory.
type RunLock struct {
	dir *os.File
}

// LockRunDir takes the run directory's lock (creating the directory), or fails at once
// naming the process that holds it.
func LockRunDir(dir string, command string) (*RunLock, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("cannot create run directory: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot lock run directory %s: %w", dir, err)
	}
	if err := syscall.Flock(int(d.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		d.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			who := "another process"
			if b, _ := os.ReadFile(filepath.Join(dir, lockFile)); len(strings.TrimSpace(string(b))) > 0 {
				who = strings.TrimSpace(string(b))
			}
			return nil, fmt.Errorf("%w: %s is being trained by %s; wait for it to finish, or use another --run", ErrLocked, dir, who)
		}
		return nil, fmt.Errorf("cannot lock run directory %s: %w", dir, err)
	}
	// Written only while holding the lock, so it never mixes two processes' lines.
	line := fmt.Sprintf("process %d (%s)\n", os.Getpid(), command)
	if err := os.WriteFile(filepath.Join(dir, lockFile), []byte(line), 0o644); err != nil {
		d.Close()
		return nil, fmt.Errorf("cannot lock run directory %s: %w", dir, err)
	}
	return &RunLock{d}, nil
}

// Unlock releases the lock.
func (l *RunLock) Unlock() {
	if l != nil && l.dir != nil {
		os.Remove(filepath.Join(l.dir.Name(), lockFile))
		l.dir.Close() // closing drops the flock
		l.dir = nil
	}
}

// isTrainerTemp reports whether name is the temporary file of a save of a file only a
// trainer writes (checkpoints.WriteAtomic's ".NAME.tmp-XXXX"): one found while holding
// the run's lock was left by a save that was killed.
func isTrainerTemp(name string) bool {
	base, ok := strings.CutPrefix(name, ".")
	if !ok {
		return false
	}
	target, _, ok := strings.Cut(base, ".tmp-")
	if !ok {
		return false
	}
	for _, f := range runFiles {
		if target == f {
			return true
		}
	}
	return strings.HasPrefix(target, "epoch_")
}

// removeStaleTemps deletes the temporary files that saves killed midway left in dir and its
// samples folder, and returns how many and their bytes. Only call it holding the lock.
func removeStaleTemps(dir string) (n int, bytes int64) {
	for _, d := range []string{dir, filepath.Join(dir, "samples"), filepath.Join(dir, PreviousDir)} {
		entries, _ := os.ReadDir(d)
		for _, e := range entries {
			if !e.Type().IsRegular() || !isTrainerTemp(e.Name()) {
				continue
			}
			info, err := e.Info()
			if err == nil && os.Remove(filepath.Join(d, e.Name())) == nil {
				n++
				bytes += info.Size()
			}
		}
	}
	return n, bytes
}

// setAside moves the run's checkpoints, metrics and config into RUN/previous, so that a
// --fresh start loses nothing until it has saved a checkpoint of its own. It returns
// whether RUN/previous now holds a run to keep.
func setAside(dir string) (bool, error) {
	prev := filepath.Join(dir, PreviousDir)
	if hasCheckpoint(prev) && !hasCheckpoint(dir) {
		return true, nil // an earlier --fresh saved nothing: what it set aside is still the run
	}
	var present []string
	for _, name := range runRecord {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			present = append(present, name)
		}
	}
	if len(present) == 0 {
		return false, nil
	}
	if err := os.RemoveAll(prev); err != nil {
		return false, err
	}
	if err := os.Mkdir(prev, 0o755); err != nil {
		return false, err
	}
	for _, name := range present {
		if err := os.Rename(filepath.Join(dir, name), filepath.Join(prev, name)); err != nil {
			return true, fmt.Errorf("--fresh: cannot set aside %s: %w", filepath.Join(dir, name), err)
		}
	}
	return true, syncDir(dir)
}

// runRecord is what --fresh sets aside: everything a resume reads.
var runRecord = []string{LatestFile, BestFile, MetricsFile, ConfigFile, TensorBoardDir}

// restoreAside moves what --fresh set aside back, when the run has no checkpoint of its
// own (the fresh run stopped before saving): a plain resume then continues the old run.
func restoreAside(dir string) (bool, error) {
	prev := filepath.Join(dir, PreviousDir)
	if !hasCheckpoint(prev) || hasCheckpoint(dir) {
		return false, nil
	}
	for _, name := range runRecord {
		if _, err := os.Lstat(filepath.Join(prev, name)); err != nil {
			continue
		}
		// What the fresh run logged before it failed (a TensorBoard folder, which a rename
		// cannot replace) goes; the run it replaced comes back.
		if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
			return false, err
		}
		if err := os.Rename(filepath.Join(prev, name), filepath.Join(dir, name)); err != nil {
			return false, err
		}
	}
	return true, os.RemoveAll(prev)
}

func hasCheckpoint(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, LatestFile))
	return err == nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	d.Sync()
	return nil
}
