package checkpoints

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"unicode/utf8"
)

// Encode writes tensors and metadata to w in the safetensors format. The
// output depends only on the inputs: tensors are laid out sorted by name and
// metadata keys are sorted, so the same model state gives the same bytes.
// Nothing is written if the tensors are invalid.
func Encode(w io.Writer, tensors []Tensor, meta map[string]string) error {
	order, err := checkTensors(tensors)
	if err != nil {
		return err
	}
	header, err := encodeHeader(tensors, order, meta)
	if err != nil {
		return err
	}
	var prefix [8]byte
	binary.LittleEndian.PutUint64(prefix[:], uint64(len(header)))
	if _, err := w.Write(prefix[:]); err != nil {
		return err
	}
	if _, err := w.Write(header); err != nil {
		return err
	}
	return writeData(w, tensors, order)
}

// checkTensors validates the tensors and returns their indices sorted by
// name, leaving the caller's slice untouched.
func checkTensors(tensors []Tensor) ([]int, error) {
	seen := make(map[string]bool, len(tensors))
	order := make([]int, len(tensors))
	for i, t := range tensors {
		order[i] = i
		switch {
		case t.Name == "":
			return nil, fmt.Errorf("tensor %d has an empty name", i)
		case t.Name == metadataKey:
			return nil, fmt.Errorf("tensor name %q is reserved by the format", metadataKey)
		case !utf8.ValidString(t.Name):
			// encoding/json would silently replace the bad bytes, and the
			// file would then hold a different name than asked for.
			return nil, fmt.Errorf("tensor name %s is not valid UTF-8", quote(t.Name))
		case seen[t.Name]:
			return nil, fmt.Errorf("tensor %s appears twice", quote(t.Name))
		}
		seen[t.Name] = true
		n, ok := elements(t.Shape)
		if !ok {
			return nil, fmt.Errorf("tensor %s has invalid shape %v", quote(t.Name), t.Shape)
		}
		if n != uint64(len(t.Data)) {
			return nil, fmt.Errorf("tensor %s has %d values, but shape %v holds %d", quote(t.Name), len(t.Data), t.Shape, n)
		}
	}
	sort.Slice(order, func(i, j int) bool { return tensors[order[i]].Name < tensors[order[j]].Name })
	return order, nil
}

// elements is the number of elements of shape; ok is false for a negative
// dimension or a product too large to address as float32 bytes.
func elements(shape []int) (n uint64, ok bool) {
	n = 1
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt/4 {
			return 0, false
		}
		n = lo
	}
	return n, true
}

// encodeHeader builds the JSON header in the reference implementation's
// layout: __metadata__ first, then the tensors in data order, each with its
// fields in the order dtype, shape, data_offsets; padded with spaces so the
// data buffer starts 8-byte aligned.
func encodeHeader(tensors []Tensor, order []int, meta map[string]string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	if len(meta) > 0 {
		for k, v := range meta {
			if !utf8.ValidString(k) || !utf8.ValidString(v) {
				return nil, fmt.Errorf("metadata %s is not valid UTF-8", quote(k))
			}
		}
		writeJSON(&b, metadataKey)
		b.WriteByte(':')
		writeJSON(&b, meta) // encoding/json sorts map keys
	}
	offset := 0
	for i, idx := range order {
		t := tensors[idx]
		if i > 0 || len(meta) > 0 {
			b.WriteByte(',')
		}
		writeJSON(&b, t.Name)
		b.WriteString(`:{"dtype":"F32","shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(d))
		}
		end := offset + 4*len(t.Data)
		fmt.Fprintf(&b, `],"data_offsets":[%d,%d]}`, offset, end)
		offset = end
	}
	b.WriteByte('}')
	for b.Len()%8 != 0 {
		b.WriteByte(' ')
	}
	if b.Len() > maxHeaderLen {
		return nil, errors.New("safetensors header is over the 100,000,000-byte limit: too many tensors or too much metadata")
	}
	return b.Bytes(), nil
}

// writeJSON appends v as JSON. HTML escaping is off because the reference
// writer does not escape <, > and &; both forms are valid JSON, this one is
// what Python tools produce.
func writeJSON(b *bytes.Buffer, v any) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Strings and string maps always encode.
		panic("checkpoints: encoding header: " + err.Error())
	}
	b.Truncate(b.Len() - 1) // Encode adds a newline
}

// writeData writes the tensors' values as little-endian float32, in chunks
// so a large tensor needs neither a byte copy of itself nor one Write call
// per value.
func writeData(w io.Writer, tensors []Tensor, order []int) error {
	buf := make([]byte, 0, 64<<10)
	for _, idx := range order {
		for _, v := range tensors[idx].Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) == cap(buf) {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
	}
	if len(buf) > 0 {
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}
