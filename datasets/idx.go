package datasets

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// IDX is a decoded IDX file (the format of MNIST and its relatives): an array of
// unsigned bytes with up to four dimensions, stored row-major.
type IDX struct {
	Dims []int
	Data []byte
}

// maxIDXBytes bounds the data size a header may promise. The largest real IDX files are
// tens of megabytes; anything past 2 GiB is a corrupt or hostile header and is rejected
// before memory is allocated for it.
const maxIDXBytes = 1 << 31

// idxUnsignedByte is the only element type aigc reads: every image and label set in the
// MNIST family uses it.
const idxUnsignedByte = 0x08

// idxTypeNames names the element types the IDX format defines, for error messages.
var idxTypeNames = map[byte]string{
	0x08: "unsigned byte",
	0x09: "signed byte",
	0x0B: "int16",
	0x0C: "int32",
	0x0D: "float32",
	0x0E: "float64",
}

// gzipMagic starts every gzip stream. IDX files are distributed gzipped, and people
// sometimes unpack them and sometimes don't, so the content decides, not the file name.
var gzipMagic = []byte{0x1f, 0x8b}

// ReadIDX reads an IDX file from r, decompressing it first if it is gzipped. name
// identifies the file in errors, each of which starts with it. The whole input must be
// exactly one IDX array: missing and trailing bytes are both errors.
func ReadIDX(r io.Reader, name string) (*IDX, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	gzipped := false
	if head, _ := br.Peek(len(gzipMagic)); string(head) == string(gzipMagic) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: corrupt gzip stream: %v", name, err)
		}
		defer zr.Close()
		src, gzipped = zr, true
	}
	// readErr reports a failed read, or returns nil when the input simply ended, which
	// the caller reports as truncation. Within gzip, compressed data that ends early is
	// corruption of the stream, not a short IDX file.
	readErr := func(err error) error {
		if gzipped && err != io.EOF {
			if err == io.ErrUnexpectedEOF {
				return fmt.Errorf("%s: corrupt gzip stream: compressed data ends early", name)
			}
			return fmt.Errorf("%s: corrupt gzip stream: %v", name, err)
		}
		if err != io.EOF && err != io.ErrUnexpectedEOF {
			return fmt.Errorf("%s: %v", name, err)
		}
		return nil
	}

	dims, err := readIDXHeader(src, name, readErr)
	if err != nil {
		return nil, err
	}
	size := int64(1)
	for _, d := range dims {
		// Dimensions are at most 2^32-1, so checking before multiplying keeps size exact.
		if size > maxIDXBytes/int64(d) {
			return nil, fmt.Errorf("%s: dimensions %s promise more than the %d-byte limit",
				name, formatDims(dims), int64(maxIDXBytes))
		}
		size *= int64(d)
	}

	data, err := readUpTo(src, size)
	if err != nil {
		if e := readErr(err); e != nil {
			return nil, e
		}
		return nil, fmt.Errorf("%s: truncated: header promises %d bytes of data, file has %d",
			name, size, len(data))
	}
	// Reading past the data also makes gzip verify its checksum, which it only does at
	// the end of the stream.
	var extra [1]byte
	if n, err := io.ReadFull(src, extra[:]); n > 0 {
		return nil, fmt.Errorf("%s: trailing bytes after the %d bytes of data the header promises",
			name, size)
	} else if e := readErr(err); e != nil {
		return nil, e
	}
	return &IDX{Dims: dims, Data: data}, nil
}

// readIDXHeader reads and checks the magic number and the dimensions.
func readIDXHeader(r io.Reader, name string, readErr func(error) error) ([]int, error) {
	// readUpTo, unlike io.ReadFull, passes on the reader's own error, which readErr needs.
	magic, err := readUpTo(r, 4)
	if err != nil {
		if e := readErr(err); e != nil {
			return nil, e
		}
		return nil, fmt.Errorf("%s: truncated header: file is shorter than the 4-byte magic number", name)
	}
	if magic[0] != 0 || magic[1] != 0 {
		return nil, fmt.Errorf("%s: not an IDX file: magic number % x does not start with 00 00", name, magic)
	}
	if typ := magic[2]; typ != idxUnsignedByte {
		if what, ok := idxTypeNames[typ]; ok {
			return nil, fmt.Errorf("%s: unsupported element type 0x%02X (%s); only unsigned bytes (0x08) are supported",
				name, typ, what)
		}
		return nil, fmt.Errorf("%s: not an IDX file: unknown element type 0x%02X", name, typ)
	}
	ndims := int(magic[3])
	if ndims < 1 || ndims > 4 {
		return nil, fmt.Errorf("%s: header declares %d dimensions, want 1 to 4", name, ndims)
	}
	raw, err := readUpTo(r, int64(4*ndims))
	if err != nil {
		if e := readErr(err); e != nil {
			return nil, e
		}
		return nil, fmt.Errorf("%s: truncated header: %d dimensions need %d bytes of sizes, file has %d",
			name, ndims, 4*ndims, len(raw))
	}
	dims := make([]int, ndims)
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(raw[4*i:]))
	}
	for i, d := range dims {
		if d == 0 {
			return nil, fmt.Errorf("%s: dimension %d of %s is zero", name, i+1, formatDims(dims))
		}
	}
	return dims, nil
}

// ReadIDXFile reads the IDX file at path, gzipped or not; errors start with the path.
func ReadIDXFile(path string) (*IDX, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, pathError(path, err)
	}
	defer f.Close()
	return ReadIDX(f, path)
}

// pathError reports a failed file operation as "path: reason", the form of every error
// in this package, instead of the standard "open path: reason". The reason stays wrapped
// so errors.Is(err, fs.ErrNotExist) still works.
func pathError(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%s: %w", path, err)
}

// formatDims writes dimensions the way people say them: 60000x28x28.
func formatDims(dims []int) string {
	s := make([]string, len(dims))
	for i, d := range dims {
		s[i] = strconv.Itoa(d)
	}
	return strings.Join(s, "x")
}
