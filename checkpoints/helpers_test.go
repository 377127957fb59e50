package checkpoints

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

// craft builds a safetensors file from a header and a data buffer, with a
// correct length prefix and no padding.
func craft(header string, data []byte) []byte {
	return craftLen(uint64(len(header)), append([]byte(header), data...))
}

// craftLen builds a file whose length prefix says n, followed by rest.
func craftLen(n uint64, rest []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, n)
	return append(out, rest...)
}

// le32 returns values as little-endian float32 bytes.
func le32(values ...float32) []byte {
	var out []byte
	for _, v := range values {
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
	}
	return out
}

func encode(t testing.TB, tensors []Tensor, meta map[string]string) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Encode(&b, tensors, meta); err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return b.Bytes()
}

// checkErr fails unless err is a one-line error containing every want.
func checkErr(t *testing.T, err error, wants ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", wants)
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\r\n") {
		t.Errorf("error is not one line: %q", msg)
	}
	for _, w := range wants {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q does not mention %q", msg, w)
		}
	}
}

// sameBits compares float32 slices bit for bit, so NaN and -0 count.
func sameBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}
