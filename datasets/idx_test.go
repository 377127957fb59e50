package datasets

import (
	"bytes"
	"errors"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReadIDX(t *testing.T) {
	good := idxBytes([]int{2, 3}, seq(6, 10))
	gz := gzipBytes(t, good)
	corruptGz := slices.Clone(gz)
	corruptGz[len(corruptGz)-8] ^= 0xff // CRC-32 in the gzip trailer

	tests := []struct {
		name    string
		input   []byte
		wantErr string // substring; empty means success
	}{
		{"good raw", good, ""},
		{"good gzipped", gz, ""},
		{"empty", nil, "truncated header"},
		{"truncated magic", good[:3], "truncated header"},
		{"truncated dimensions", good[:9], "truncated header: 2 dimensions need 8 bytes of sizes, file has 5"},
		{"truncated data", good[:len(good)-2], "truncated: header promises 6 bytes of data, file has 4"},
		{"wrong magic", append([]byte{1, 2}, good[2:]...), "not an IDX file"},
		{"unknown type", idxBytesOfType(0x42, []int{1}, []byte{0}), "unknown element type 0x42"},
		{"unsupported type", idxBytesOfType(0x0D, []int{1}, make([]byte, 4)), "unsupported element type 0x0D"},
		{"no dimensions", idxBytes(nil, nil), "header declares 0 dimensions"},
		{"five dimensions", idxBytes([]int{1, 1, 1, 1, 1}, []byte{0}), "header declares 5 dimensions"},
		{"zero dimension", idxBytes([]int{5, 0, 28}, nil), "dimension 2 of 5x0x28 is zero"},
		{"absurd dimensions", idxBytes([]int{1 << 20, 1 << 20, 1 << 20}, nil), "more than the 2147483648-byte limit"},
		{"max dimensions", idxBytes([]int{1<<32 - 1, 1<<32 - 1, 1<<32 - 1, 1<<32 - 1}, nil), "more than the"},
		{"trailing bytes", append(slices.Clone(good), 0), "trailing bytes after the 6 bytes of data"},
		{"trailing bytes gzipped", gzipBytes(t, append(slices.Clone(good), 1, 2)), "trailing bytes"},
		{"truncated gzipped header", gzipBytes(t, good[:9]), "truncated header: 2 dimensions need 8 bytes of sizes, file has 5"},
		{"truncated gzipped data", gzipBytes(t, good[:len(good)-1]), "truncated: header promises 6 bytes of data, file has 5"},
		{"truncated gzip stream", gz[:len(gz)-12], "corrupt gzip stream"},
		{"gzip checksum", corruptGz, "corrupt gzip stream"},
		{"gzip header only", gz[:2], "corrupt gzip stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			idx, err := ReadIDX(bytes.NewReader(tt.input), "some.idx")
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if !slices.Equal(idx.Dims, []int{2, 3}) || !bytes.Equal(idx.Data, seq(6, 10)) {
					t.Fatalf("got dims %v data %v", idx.Dims, idx.Data)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one containing %q", tt.wantErr)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "some.idx: ") || !strings.Contains(msg, tt.wantErr) {
				t.Fatalf("error %q, want one starting with the name and containing %q", msg, tt.wantErr)
			}
			if strings.Contains(msg, "\n") {
				t.Fatalf("error %q spans lines", msg)
			}
		})
	}
}

// A large file crosses several buffer growths in readUpTo.
func TestReadIDXLarge(t *testing.T) {
	data := seq(3*initialReadBuffer+17, 0)
	idx, err := ReadIDX(bytes.NewReader(gzipBytes(t, idxBytes([]int{len(data)}, data))), "big")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(idx.Data, data) {
		t.Fatal("data differs")
	}
}

func TestReadIDXFile(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.gz", gzipBytes(t, idxBytes([]int{3}, []byte{1, 2, 3})))
	idx, err := ReadIDXFile(filepath.Join(dir, "a.gz"))
	if err != nil || !bytes.Equal(idx.Data, []byte{1, 2, 3}) {
		t.Fatalf("got %v, %v", idx, err)
	}

	missing := filepath.Join(dir, "missing")
	_, err = ReadIDXFile(missing)
	if err == nil || !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), missing+": ") ||
		strings.Count(err.Error(), missing) != 1 {
		t.Fatalf("error %v, want %q followed by a not-exist reason", err, missing)
	}
}

func FuzzReadIDX(f *testing.F) {
	good := idxBytes([]int{2, 2, 3}, seq(12, 0))
	f.Add(good)
	f.Add(good[:len(good)-5])
	f.Add(gzipBytes(f, good))
	f.Add(idxBytes([]int{1 << 16, 1 << 16}, nil))
	f.Add(idxBytesOfType(0x0D, []int{1}, make([]byte, 4)))
	f.Fuzz(func(t *testing.T, in []byte) {
		idx, err := ReadIDX(bytes.NewReader(in), "fuzz")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz: ") {
				t.Fatalf("error %q does not start with the name", err)
			}
			return
		}
		size := 1
		for _, d := range idx.Dims {
			if d <= 0 {
				t.Fatalf("dimension %d accepted", d)
			}
			size *= d
		}
		if size != len(idx.Data) {
			t.Fatalf("dims %v but %d bytes", idx.Dims, len(idx.Data))
		}
	})
}
