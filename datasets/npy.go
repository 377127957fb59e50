package datasets

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// The NPY format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
const (
	npyMagic = "\x93NUMPY"
	// npyAlign is the multiple numpy pads magic+length+header to, so the data is aligned.
	npyAlign = 64
	// npyGrowthDigits is the room numpy leaves in the header for the first dimension to
	// grow in place; writing it too makes our files byte-identical to np.save's.
	npyGrowthDigits = 21
	// maxNPYHeader bounds the header a reader accepts. Real headers are about a hundred
	// bytes; numpy itself refuses more than 10000 by default.
	maxNPYHeader = 1 << 16
	// maxNPYElements bounds the element count a header may promise.
	maxNPYElements = 1 << 31
)

// WriteNPY writes data as a little-endian float32 array of the given shape in NPY
// version 1.0, C order, exactly as np.save would.
func WriteNPY(w io.Writer, data []float32, shape []int) error {
	count := 1
	for _, d := range shape {
		if d < 0 || (d > 0 && count > maxNPYElements/d) {
			return fmt.Errorf("npy: bad shape %v", shape)
		}
		count *= d
	}
	if count != len(data) {
		return fmt.Errorf("npy: shape %v holds %d values, got %d", shape, count, len(data))
	}

	header := npyHeader(shape)
	if _, err := io.WriteString(w, header); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	var buf [32 << 10]byte
	for len(data) > 0 {
		chunk := data[:min(len(data), len(buf)/4)]
		for i, v := range chunk {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		if _, err := w.Write(buf[:4*len(chunk)]); err != nil {
			return fmt.Errorf("npy: %w", err)
		}
		data = data[len(chunk):]
	}
	return nil
}

// npyHeader returns the magic, version, length and header dictionary for a float32
// C-order array, padded the way numpy pads it.
func npyHeader(shape []int) string {
	var dict strings.Builder
	dict.WriteString("{'descr': '<f4', 'fortran_order': False, 'shape': (")
	for i, d := range shape {
		if i > 0 {
			dict.WriteString(", ")
		}
		dict.WriteString(strconv.Itoa(d))
	}
	if len(shape) == 1 {
		dict.WriteString(",") // Python's one-element tuple
	}
	dict.WriteString("), }")
	if len(shape) > 0 {
		dict.WriteString(strings.Repeat(" ", max(0, npyGrowthDigits-len(strconv.Itoa(shape[0])))))
	}
	// magic (6) + version (2) + length (2) + dict + padding + '\n' is a multiple of 64.
	unpadded := len(npyMagic) + 2 + 2 + dict.Len() + 1
	padding := (npyAlign - unpadded%npyAlign) % npyAlign
	hlen := dict.Len() + padding + 1

	var b strings.Builder
	b.WriteString(npyMagic)
	b.WriteString("\x01\x00")
	b.WriteByte(byte(hlen))
	b.WriteByte(byte(hlen >> 8))
	b.WriteString(dict.String())
	b.WriteString(strings.Repeat(" ", padding))
	b.WriteByte('\n')
	return b.String()
}

// npyDtype is an element type ReadNPY converts to float32.
type npyDtype struct {
	size    int
	convert func(dst []float32, src []byte)
}

var npyDtypes = map[string]npyDtype{
	"<f4": {4, func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	}},
	"<f8": {8, func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	}},
	// Bytes are pixels, so they are scaled into [0,1] like everything else aigc reads.
	"|u1": {1, func(dst []float32, src []byte) {
		for i := range dst {
			dst[i] = float32(src[i]) / 255
		}
	}},
}

// ReadNPY reads one array written by numpy (format version 1.0, 2.0 or 3.0) of dtype
// '<f4', '<f8' (narrowed to float32) or '|u1' (scaled by 1/255), in C order. It reads
// exactly the array's bytes, so arrays saved one after another can be read in turn.
// name identifies the input in errors, each of which starts with it.
func ReadNPY(r io.Reader, name string) (data []float32, shape []int, err error) {
	var pre [len(npyMagic) + 2]byte
	if n, err := io.ReadFull(r, pre[:]); err != nil {
		if n == 0 && err == io.EOF {
			return nil, nil, fmt.Errorf("%s: empty file, not an NPY array", name)
		}
		return nil, nil, readFailure(name, "truncated header", err)
	}
	if string(pre[:len(npyMagic)]) != npyMagic {
		return nil, nil, fmt.Errorf("%s: not an NPY file: bad magic % x", name, pre[:len(npyMagic)])
	}
	major, minor := pre[len(npyMagic)], pre[len(npyMagic)+1]
	lenBytes := 4
	switch major {
	case 1:
		lenBytes = 2
	case 2, 3:
	default:
		return nil, nil, fmt.Errorf("%s: unsupported NPY version %d.%d", name, major, minor)
	}
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:lenBytes]); err != nil {
		return nil, nil, readFailure(name, "truncated header", err)
	}
	hlen := int64(binary.LittleEndian.Uint32(lb[:]))
	if hlen > maxNPYHeader {
		return nil, nil, fmt.Errorf("%s: NPY header of %d bytes is beyond the %d-byte limit", name, hlen, maxNPYHeader)
	}
	header := make([]byte, hlen)
	if n, err := io.ReadFull(r, header); err != nil {
		return nil, nil, readFailure(name,
			fmt.Sprintf("truncated header: %d bytes promised, file has %d", hlen, n), err)
	}

	descr, fortran, shape, err := parseNPYHeader(string(header))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: bad NPY header: %v", name, err)
	}
	dtype, ok := npyDtypes[descr]
	if !ok {
		return nil, nil, fmt.Errorf("%s: unsupported dtype %q; want '<f4', '<f8' or '|u1'", name, descr)
	}
	count := int64(1)
	for _, d := range shape {
		if d > 0 && count > maxNPYElements/int64(d) {
			return nil, nil, fmt.Errorf("%s: shape %v has more than %d elements", name, shape, int64(maxNPYElements))
		}
		count *= int64(d)
	}
	// In one dimension or fewer both orders are the same array.
	if fortran && len(shape) > 1 {
		return nil, nil, fmt.Errorf("%s: Fortran-order arrays are not supported; save np.ascontiguousarray(a)", name)
	}

	size := count * int64(dtype.size)
	raw, err := readUpTo(r, size)
	if err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, nil, fmt.Errorf("%s: truncated: header promises %d bytes of data, file has %d",
				name, size, len(raw))
		}
		return nil, nil, fmt.Errorf("%s: %v", name, err)
	}
	data = make([]float32, count)
	dtype.convert(data, raw)
	return data, shape, nil
}

// readFailure reports a failed header read: what went wrong if the input ended, the
// reader's own error otherwise.
func readFailure(name, what string, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%s: %s", name, what)
	}
	return fmt.Errorf("%s: %v", name, err)
}

// parseNPYHeader reads the header dictionary, a Python literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 28, 28), }.
func parseNPYHeader(header string) (descr string, fortran bool, shape []int, err error) {
	p := pyParser{s: bytes.TrimRight([]byte(header), " \t\r\n\x00")}
	v, err := p.value(0)
	if err == nil && p.skipSpace() < len(p.s) {
		err = fmt.Errorf("unexpected %q after the dictionary", p.s[p.i])
	}
	if err != nil {
		return "", false, nil, err
	}
	dict, ok := v.(map[string]any)
	if !ok {
		return "", false, nil, fmt.Errorf("header is not a dictionary")
	}
	for key := range dict {
		if key != "descr" && key != "fortran_order" && key != "shape" {
			return "", false, nil, fmt.Errorf("unexpected key %q", key)
		}
	}
	if descr, ok = dict["descr"].(string); !ok {
		// A list here describes a structured array.
		return "", false, nil, fmt.Errorf("'descr' is missing or not a simple dtype")
	}
	if fortran, ok = dict["fortran_order"].(bool); !ok {
		return "", false, nil, fmt.Errorf("'fortran_order' is missing or not True/False")
	}
	dims, ok := dict["shape"].([]any)
	if !ok {
		return "", false, nil, fmt.Errorf("'shape' is missing or not a tuple")
	}
	shape = make([]int, len(dims))
	for i, d := range dims {
		n, ok := d.(int)
		if !ok {
			return "", false, nil, fmt.Errorf("'shape' holds %v, not a size", d)
		}
		shape[i] = n
	}
	return descr, fortran, shape, nil
}
