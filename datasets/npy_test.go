package datasets

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestNPYGoldenHeader(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteNPY(&buf, make([]float32, 2*28*28), []int{2, 28, 28}); err != nil {
		t.Fatal(err)
	}
	// What np.save(f, np.zeros((2, 28, 28), np.float32)) writes.
	want := "\x93NUMPY\x01\x00\x76\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 28, 28), }" +
		strings.Repeat(" ", 53) + "\n"
	if got := buf.String()[:len(want)]; got != want {
		t.Fatalf("header\n%q\nwant\n%q", got, want)
	}
	if buf.Len() != len(want)+2*28*28*4 {
		t.Fatalf("file is %d bytes", buf.Len())
	}
}

// Files np.save wrote are reproduced byte for byte.
func TestWriteNPYMatchesNumpy(t *testing.T) {
	for _, c := range []struct {
		file  string
		data  []float32
		shape []int
	}{
		{"f4_5.npy", []float32{0, 1, 2, 3, 4}, []int{5}},
		{"f4_scalar.npy", []float32{1.5}, nil},
	} {
		want, err := os.ReadFile(filepath.Join("testdata", "npy", c.file))
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := WriteNPY(&buf, c.data, c.shape); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("%s:\n got %q\nwant %q", c.file, buf.Bytes(), want)
		}
	}
}

func TestNPYRoundTrip(t *testing.T) {
	for _, shape := range [][]int{{3}, {2, 3}, {4, 28, 28}, {1, 1, 1, 2}, {0, 5}, {}, {123456789, 0}} {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(i)*0.25 - 3
		}
		if n > 2 {
			data[1], data[2] = float32(math.Inf(-1)), math.MaxFloat32
		}
		var buf bytes.Buffer
		if err := WriteNPY(&buf, data, shape); err != nil {
			t.Fatal(err)
		}
		hlen := int(binary.LittleEndian.Uint16(buf.Bytes()[8:]))
		if (10+hlen)%64 != 0 || buf.Bytes()[10+hlen-1] != '\n' {
			t.Errorf("shape %v: header of %d bytes is not aligned or lacks its newline", shape, hlen)
		}
		got, gotShape, err := ReadNPY(&buf, "round trip")
		if err != nil {
			t.Fatalf("shape %v: %v", shape, err)
		}
		if !slices.Equal(gotShape, shape) || !slices.Equal(got, data) {
			t.Fatalf("shape %v: got shape %v, data %v", shape, gotShape, got[:min(len(got), 5)])
		}
		if buf.Len() != 0 {
			t.Fatalf("shape %v: %d bytes left unread", shape, buf.Len())
		}
	}
}

// Arrays saved one after another in one file are read in turn.
func TestReadNPYSequence(t *testing.T) {
	var buf bytes.Buffer
	WriteNPY(&buf, []float32{1, 2}, []int{2})
	WriteNPY(&buf, []float32{3}, []int{1, 1})
	a, _, err := ReadNPY(&buf, "seq")
	if err != nil || !slices.Equal(a, []float32{1, 2}) {
		t.Fatalf("first: %v %v", a, err)
	}
	b, shape, err := ReadNPY(&buf, "seq")
	if err != nil || !slices.Equal(b, []float32{3}) || !slices.Equal(shape, []int{1, 1}) {
		t.Fatalf("second: %v %v %v", b, shape, err)
	}
}

func TestReadNPYNumpyFiles(t *testing.T) {
	for _, c := range []struct {
		file  string
		data  []float32
		shape []int
	}{
		{"u1_2x3.npy", []float32{0, 0.2, 0.4, 0.6, 0.8, 1}, []int{2, 3}},
		{"f8_2x3.npy", []float32{0, 0.125, 0.25, 0.375, 0.5, 0.625}, []int{2, 3}},
		{"f4_v2_2x3.npy", []float32{-2.5, -1.5, -0.5, 0.5, 1.5, 2.5}, []int{2, 3}},
		{"f4_scalar.npy", []float32{1.5}, []int{}},
	} {
		f, err := os.Open(filepath.Join("testdata", "npy", c.file))
		if err != nil {
			t.Fatal(err)
		}
		data, shape, err := ReadNPY(f, c.file)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(shape, c.shape) {
			t.Errorf("%s: shape %v, want %v", c.file, shape, c.shape)
		}
		for i := range c.data {
			if math.Abs(float64(data[i]-c.data[i])) > 1e-7 {
				t.Errorf("%s: %v, want %v", c.file, data, c.data)
				break
			}
		}
	}
}

func TestReadNPYErrors(t *testing.T) {
	var good bytes.Buffer
	WriteNPY(&good, []float32{1, 2, 3, 4, 5, 6}, []int{2, 3})
	g := good.Bytes()
	file := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("testdata", "npy", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// hdr builds a version 1.0 file with the given header dictionary and no data.
	hdr := func(dict string) []byte {
		b := binary.LittleEndian.AppendUint16([]byte(npyMagic+"\x01\x00"), uint16(len(dict)))
		return append(b, dict...)
	}

	for _, c := range []struct {
		name    string
		input   []byte
		wantErr string
	}{
		{"empty", nil, "empty file"},
		{"bad magic", []byte("PK\x03\x04 this is a zip"), "not an NPY file: bad magic"},
		{"short magic", g[:4], "truncated header"},
		{"version", append([]byte(npyMagic+"\x04\x00"), g[8:]...), "unsupported NPY version 4.0"},
		{"truncated length", g[:9], "truncated header"},
		{"truncated header", g[:50], "truncated header: 118 bytes promised, file has 40"},
		{"absurd header", append([]byte(npyMagic+"\x02\x00"), 0, 0, 0, 0x40), "NPY header of 1073741824 bytes is beyond"},
		{"truncated data", g[:len(g)-4], "truncated: header promises 24 bytes of data, file has 20"},
		{"fortran", file("fortran_2x3.npy"), "Fortran-order arrays are not supported"},
		{"int64", file("i8_3.npy"), `unsupported dtype "<i8"; want '<f4', '<f8' or '|u1'`},
		{"big-endian", file("bigendian_f4_2.npy"), `unsupported dtype ">f4"`},
		{"not a dict", hdr("('<f4', False, (1,))"), "header is not a dictionary"},
		{"missing key", hdr("{'descr': '<f4', 'shape': (1,)}"), "'fortran_order' is missing"},
		{"extra key", hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}"), `unexpected key "x"`},
		{"structured", hdr("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}"), "not a simple dtype"},
		{"shape of strings", hdr("{'descr': '<f4', 'fortran_order': False, 'shape': ('a',)}"), "'shape' holds a"},
		{"huge shape", hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000)}"), "more than 2147483648 elements"},
		{"unterminated", hdr("{'descr': '<f4"), "unterminated string"},
		{"garbage after", hdr("{'descr': '<f4', 'fortran_order': False, 'shape': ()} x"), "after the dictionary"},
		{"deep", hdr(strings.Repeat("(", 100)), "nested more than"},
		{"overflow", hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}"), "too large"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := ReadNPY(bytes.NewReader(c.input), "x.npy")
			if err == nil || !strings.HasPrefix(err.Error(), "x.npy: ") || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

func TestWriteNPYErrors(t *testing.T) {
	if err := WriteNPY(&bytes.Buffer{}, make([]float32, 5), []int{2, 3}); err == nil ||
		err.Error() != "npy: shape [2 3] holds 6 values, got 5" {
		t.Errorf("error %v", err)
	}
	if err := WriteNPY(&bytes.Buffer{}, nil, []int{-1}); err == nil || !strings.Contains(err.Error(), "bad shape") {
		t.Errorf("error %v", err)
	}
}

func FuzzReadNPY(f *testing.F) {
	var buf bytes.Buffer
	WriteNPY(&buf, []float32{1, 2, 3, 4, 5, 6}, []int{2, 3})
	f.Add(buf.Bytes())
	f.Add(buf.Bytes()[:buf.Len()-3])
	files, _ := filepath.Glob(filepath.Join("testdata", "npy", "*.npy"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		data, shape, err := ReadNPY(bytes.NewReader(in), "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Fatalf("error %q does not start with the name", err)
			}
			return
		}
		n := 1
		for _, d := range shape {
			if d < 0 {
				t.Fatalf("negative dimension in %v", shape)
			}
			n *= d
		}
		if n != len(data) {
			t.Fatalf("shape %v but %d values", shape, len(data))
		}
	})
}
