package datasets

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"path/filepath"
	"sync"
)

// Origin says where a data set was read from and fingerprints what was read, so that a
// run can record its data and later tell whether it is handed the same data again.
type Origin struct {
	// Arg is what --data takes to read the set again: a path made absolute, a downloaded
	// set's name, or "" for the data built into aigc (and a task generated from the
	// config and seed).
	Arg string
	// Name describes the set in messages: "mnist (embedded)", a path, "task reverse".
	Name string
	// Bytes and SHA256 fingerprint the files as they were read (for a generated task, the
	// pairs it generated).
	Bytes  int64
	SHA256 string
}

// Same reports whether two origins hold the same data, wherever it was read from.
func (o Origin) Same(p Origin) bool { return o.SHA256 == p.SHA256 && o.Bytes == p.Bytes }

// Short is the fingerprint as messages show it: the size and the start of the hash.
func (o Origin) Short() string {
	h := o.SHA256
	if len(h) > 12 {
		h = h[:12]
	}
	return fmt.Sprintf("%d bytes, sha256 %s…", o.Bytes, h)
}

// originOf fingerprints one piece of data held in memory.
func originOf(arg, name string, data []byte) Origin {
	sum := sha256.Sum256(data)
	return Origin{Arg: arg, Name: name, Bytes: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
}

// absArg is a path as --data should get it back: absolute, so a run resumed from another
// folder finds it.
func absArg(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// fileHashes collects the SHA-256 of each file a set is read from, as it is read (files of
// one set may be read concurrently), and combines them in a fixed order into one
// fingerprint.
type fileHashes struct {
	mu    sync.Mutex
	files map[string]fileHash
}

type fileHash struct {
	bytes int64
	sum   []byte
}

// reader hashes everything read from r; closing it hashes what was left unread too and
// records the file under key.
func (f *fileHashes) reader(key string, r io.ReadCloser) io.ReadCloser {
	h := sha256.New()
	return &hashingReader{r: r, h: h, done: func(n int64) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.files == nil {
			f.files = map[string]fileHash{}
		}
		f.files[key] = fileHash{n, h.Sum(nil)}
	}}
}

// origin combines the hashes of the files under keys, in that order (a key never read is
// skipped), into one fingerprint.
func (f *fileHashes) origin(arg, name string, keys []string) Origin {
	h := sha256.New()
	var total int64
	for _, k := range keys {
		fh, ok := f.files[k]
		if !ok {
			continue
		}
		total += fh.bytes
		io.WriteString(h, k)
		binary.Write(h, binary.LittleEndian, fh.bytes)
		h.Write(fh.sum)
	}
	return Origin{Arg: arg, Name: name, Bytes: total, SHA256: hex.EncodeToString(h.Sum(nil))}
}

type hashingReader struct {
	r    io.ReadCloser
	h    hash.Hash
	n    int64
	done func(n int64)
}

func (r *hashingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	return n, err
}

func (r *hashingReader) Close() error {
	n, err := io.Copy(r.h, r.r) // the unread rest (a gzip trailer, say) is part of the file
	r.n += n
	if err == nil {
		r.done(r.n)
	}
	return r.r.Close()
}
