// Package checkpoints stores model weights in the safetensors format, so that
// Python users can open aigc checkpoints with safetensors.torch.load_file, and
// writes every output file of the tool atomically.
//
// Files are validated strictly on load: a checkpoint that is truncated,
// inconsistent, or not what the model expects is rejected with a one-line
// error naming the file and the problem, never half-loaded.
package checkpoints

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
)

// maxHeaderLen is the reference implementation's limit on the JSON header
// (MAX_HEADER_SIZE, 100,000,000 bytes). Python refuses larger headers, so
// there is no point accepting them, and the bound stops a corrupt length field
// from making us parse an arbitrary amount of memory as JSON.
const maxHeaderLen = 100_000_000

// Tensor is a named float32 tensor in C (row-major) order.
type Tensor struct {
	Name  string
	Shape []int // nil or empty for a scalar
	Data  []float32
}

// File is a decoded safetensors file. Tensor records which tensors were taken
// so that a loader can reject files holding tensors its model does not have.
// A File is not safe for concurrent use.
type File struct {
	Path string            // name used in errors
	Meta map[string]string // the __metadata__ object; empty, not nil, if absent

	entries map[string]entry
	data    []byte // the data buffer, after the header
	taken   map[string]bool
}

// Read reads and decodes the safetensors file at path.
func Read(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fileError(path, err)
	}
	return Decode(data, path)
}

// readHeader reads the __metadata__ of the safetensors file at path from its header,
// without reading the data that follows.
func readHeader(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileError(path, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fileError(path, err)
	}
	var head [8]byte
	if _, err := io.ReadFull(f, head[:]); err != nil {
		return nil, fmt.Errorf("checkpoint %s: file is %d bytes, too short for a safetensors header", path, info.Size())
	}
	n := binary.LittleEndian.Uint64(head[:])
	if n > maxHeaderLen || n > uint64(info.Size()-8) {
		return nil, fmt.Errorf("checkpoint %s: header length %d does not fit the %d-byte file (corrupt file?)", path, n, info.Size())
	}
	header := make([]byte, n)
	if _, err := io.ReadFull(f, header); err != nil {
		return nil, fileError(path, err)
	}
	meta, _, err := parseHeader(header)
	if err != nil {
		return nil, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	return meta, nil
}

// fileError reports a failed read of a checkpoint, keeping the cause (which still matches
// fs.ErrNotExist and friends) without the PathError's second copy of the path.
func fileError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("checkpoint %s: %w", path, err)
}

// Decode parses a whole safetensors file held in data; name identifies it in
// errors. The returned File refers to data, which must not be modified.
func Decode(data []byte, name string) (*File, error) {
	fail := func(err error) (*File, error) {
		return nil, fmt.Errorf("checkpoint %s: %w", name, err)
	}
	if len(data) < 8 {
		return fail(fmt.Errorf("file is %d bytes, too short for a safetensors header", len(data)))
	}
	n := binary.LittleEndian.Uint64(data)
	if n > maxHeaderLen {
		return fail(fmt.Errorf("header length %d is over the %d-byte limit (corrupt file?)", n, maxHeaderLen))
	}
	if n > uint64(len(data)-8) {
		return fail(fmt.Errorf("file is truncated: the header needs %d bytes, only %d follow", n, len(data)-8))
	}
	header, buf := data[8:8+n], data[8+n:]

	meta, raws, err := parseHeader(header)
	if err != nil {
		return fail(err)
	}
	entries := make([]entry, 0, len(raws))
	for _, r := range raws {
		e, err := checkEntry(r, len(buf))
		if err != nil {
			return fail(err)
		}
		entries = append(entries, e)
	}
	if err := checkCoverage(entries, len(buf)); err != nil {
		return fail(err)
	}

	f := &File{
		Path:    name,
		Meta:    meta,
		entries: make(map[string]entry, len(entries)),
		data:    buf,
		taken:   map[string]bool{},
	}
	for _, e := range entries {
		f.entries[e.name] = e
	}
	return f, nil
}

// Names returns the names of all tensors in the file, sorted.
func (f *File) Names() []string {
	names := make([]string, 0, len(f.entries))
	for name := range f.entries {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Shape returns the shape a tensor is stored with, whatever its dtype, and
// whether the file has it. It does not count as taking the tensor.
func (f *File) Shape(name string) ([]int, bool) {
	e, ok := f.entries[name]
	if !ok {
		return nil, false
	}
	return slices.Clone(e.shape), true
}

// Tensor returns a copy of the named tensor's values, checking that it is
// stored as F32 with exactly the given shape, and marks it as taken.
func (f *File) Tensor(name string, shape []int) ([]float32, error) {
	e, ok := f.entries[name]
	if !ok {
		return nil, fmt.Errorf("checkpoint %s: tensor %s is missing", f.Path, quote(name))
	}
	if e.dtype != dtypeF32 {
		return nil, fmt.Errorf("checkpoint %s: tensor %s has dtype %s, which is not supported (aigc reads %s only)",
			f.Path, quote(name), e.dtype, dtypeF32)
	}
	if !slices.Equal(e.shape, shape) { // nil and [] both mean a scalar
		return nil, fmt.Errorf("checkpoint %s: tensor %s has shape %v, the model wants %v",
			f.Path, quote(name), e.shape, shape)
	}
	raw := f.data[e.begin:e.end]
	out := make([]float32, len(raw)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	f.taken[name] = true
	return out, nil
}

// ReadTensors reads every tensor of the checkpoint at path, by name.
func ReadTensors(path string) (map[string][]float32, error) {
	f, err := Read(path)
	if err != nil {
		return nil, err
	}
	return f.All()
}

// All returns every tensor of the file by name (copies, taken as Tensor takes them).
func (f *File) All() (map[string][]float32, error) {
	out := make(map[string][]float32, len(f.entries))
	for name, e := range f.entries {
		t, err := f.Tensor(name, e.shape)
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

// Unused returns, sorted, the names of the tensors never successfully taken
// with Tensor.
func (f *File) Unused() []string {
	var names []string
	for _, name := range f.Names() {
		if !f.taken[name] {
			names = append(names, name)
		}
	}
	return names
}

// ExpectAllUsed fails if some tensor in the file was never taken: a loader
// calls it last, so that a checkpoint of a bigger or different model is
// rejected rather than silently half-loaded.
func (f *File) ExpectAllUsed() error {
	unused := f.Unused()
	if len(unused) == 0 {
		return nil
	}
	const show = 5
	quoted := make([]string, 0, show)
	for _, name := range unused[:min(show, len(unused))] {
		quoted = append(quoted, quote(name))
	}
	list := strings.Join(quoted, ", ")
	if len(unused) > show {
		list += fmt.Sprintf(" and %d more", len(unused)-show)
	}
	noun := "tensor"
	if len(unused) > 1 {
		noun = "tensors"
	}
	return fmt.Errorf("checkpoint %s: unexpected %s %s, not part of the model", f.Path, noun, list)
}
