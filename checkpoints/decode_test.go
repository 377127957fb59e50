package checkpoints

import (
	"strconv"
	"strings"
	"testing"
)

// TestDecodeRejects feeds Decode crafted broken files; each must fail with a
// one-line error that names the file and says what is wrong.
func TestDecodeRejects(t *testing.T) {
	valid := encode(t, []Tensor{
		{Name: "a", Shape: []int{2}, Data: []float32{1, 2}},
		{Name: "b", Shape: []int{1}, Data: []float32{3}},
	}, map[string]string{"family": "vae"})
	entry := func(name, dtype, shape string, begin, end int) string {
		return `"` + name + `":{"dtype":"` + dtype + `","shape":` + shape +
			`,"data_offsets":[` + strconv.Itoa(begin) + `,` + strconv.Itoa(end) + `]}`
	}
	f32x2 := le32(1, 2)

	cases := []struct {
		name string
		file []byte
		want []string
	}{
		{"empty file", nil, []string{"0 bytes, too short"}},
		{"under 8 bytes", []byte{1, 0, 0}, []string{"3 bytes, too short"}},
		{"header cut", craftLen(100, []byte(`{"a":{`)), []string{"truncated", "needs 100 bytes, only 6 follow"}},
		{"data cut", valid[:len(valid)-4], []string{"go past the end", "truncated?"}},
		{"absurd header length", craftLen(1<<62, []byte("{}")), []string{"header length 4611686018427387904", "limit"}},
		{"max header length", craftLen(^uint64(0), nil), []string{"limit"}},
		{"header just over limit", craftLen(100_000_001, nil), []string{"limit"}},
		{"empty header", craft("", nil), []string{"not valid JSON", "unexpected EOF"}},
		{"invalid JSON", craft(`{"a":`, nil), []string{"not valid JSON"}},
		{"bad JSON syntax", craft(`{"a" 1}`, nil), []string{"not valid JSON"}},
		{"trailing comma", craft(`{"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},}`, le32(1)), []string{"not valid JSON"}},
		{"not an object", craft(`[]`, nil), []string{"not a JSON object"}},
		{"invalid UTF-8", craft("{\"\xff\":1}", nil), []string{"not valid UTF-8"}},
		{"trailing data", craft(`{} x`, nil), []string{"data after the JSON object"}},
		{"second object", craft(`{}{}`, nil), []string{"data after the JSON object"}},
		{"NUL padding", craft("{}\x00\x00", nil), []string{"data after the JSON object"}},
		{"duplicate tensor", craft(`{`+entry("a", "F32", "[1]", 0, 4)+`,`+entry("a", "F32", "[1]", 4, 8)+`}`, f32x2),
			[]string{`duplicate key "a"`}},
		{"duplicate metadata object", craft(`{"__metadata__":{},"__metadata__":{}}`, nil), []string{`duplicate key "__metadata__"`}},
		{"duplicate metadata key", craft(`{"__metadata__":{"k":"1","k":"2"}}`, nil), []string{`__metadata__ has duplicate key "k"`}},
		{"duplicate field", craft(`{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, le32(1)),
			[]string{`tensor "a": duplicate field "dtype"`}},
		{"unknown field", craft(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"stride":[1]}}`, le32(1)),
			[]string{`tensor "a": unknown field "stride"`}},
		{"missing dtype", craft(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, le32(1)), []string{`tensor "a": missing field "dtype"`}},
		{"missing shape", craft(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, le32(1)), []string{`missing field "shape"`}},
		{"missing offsets", craft(`{"a":{"dtype":"F32","shape":[1]}}`, le32(1)), []string{`missing field "data_offsets"`}},
		{"entry not an object", craft(`{"a":5}`, nil), []string{`tensor "a": entry is not a JSON object`}},
		{"unknown dtype", craft(`{`+entry("a", "F33", "[1]", 0, 4)+`}`, le32(1)), []string{`tensor "a": unknown dtype "F33"`}},
		{"lower-case dtype", craft(`{`+entry("a", "f32", "[1]", 0, 4)+`}`, le32(1)), []string{`unknown dtype "f32"`}},
		{"dtype not a string", craft(`{"a":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}`, le32(1)), []string{"dtype is the number 32, not a string"}},
		{"offsets out of range", craft(`{`+entry("a", "F32", "[2]", 0, 8)+`}`, le32(1)), []string{`tensor "a": data_offsets [0 8] go past the end of the 4-byte data buffer`}},
		{"offsets reversed", craft(`{`+entry("a", "F32", "[1]", 4, 0)+`}`, le32(1)), []string{"data_offsets [4 0] end before they begin"}},
		{"offsets huge", craft(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551615]}}`, le32(1)), []string{"go past the end"}},
		{"offsets overflow", craft(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,18446744073709551616]}}`, le32(1)), []string{"value 18446744073709551616 is too large"}},
		{"three offsets", craft(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}`, le32(1)), []string{"data_offsets has more than 2 values"}},
		{"one offset", craft(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, le32(1)), []string{"data_offsets must hold 2 values, not 1"}},
		{"offsets not an array", craft(`{"a":{"dtype":"F32","shape":[1],"data_offsets":"0-4"}}`, le32(1)), []string{`data_offsets is "0-4", not an array`}},
		{"overlapping", craft(`{`+entry("a", "F32", "[2]", 0, 8)+`,`+entry("b", "F32", "[2]", 4, 12)+`}`, le32(1, 2, 3)),
			[]string{`tensor "b" (data_offsets [4 12]) overlaps tensor "a" (data_offsets [0 8])`}},
		{"same range twice", craft(`{`+entry("a", "F32", "[1]", 0, 4)+`,`+entry("b", "F32", "[1]", 0, 4)+`}`, le32(1)),
			[]string{`tensor "b" (data_offsets [0 4]) overlaps tensor "a"`}},
		{"empty tensor inside another", craft(`{`+entry("a", "F32", "[2]", 0, 8)+`,`+entry("z", "F32", "[0]", 4, 4)+`}`, f32x2),
			[]string{`tensor "z" (data_offsets [4 4]) overlaps tensor "a"`}},
		{"gap", craft(`{`+entry("a", "F32", "[1]", 0, 4)+`,`+entry("b", "F32", "[1]", 8, 12)+`}`, le32(1, 2, 3)),
			[]string{`bytes 4 to 8 of the data buffer belong to no tensor (gap before tensor "b")`}},
		{"gap at start", craft(`{`+entry("a", "F32", "[1]", 4, 8)+`}`, f32x2), []string{"bytes 0 to 4", "belong to no tensor"}},
		{"bytes after last tensor", craft(`{`+entry("a", "F32", "[1]", 0, 4)+`}`, f32x2), []string{"the last 4 bytes of the 8-byte data buffer belong to no tensor"}},
		{"data but no tensors", craft(`{}`, f32x2), []string{"the last 8 bytes"}},
		{"size/shape mismatch", craft(`{`+entry("a", "F32", "[3]", 0, 8)+`}`, f32x2),
			[]string{`tensor "a": shape [3] of F32 needs 12 bytes, but data_offsets [0 8] hold 8`}},
		{"dtype size mismatch", craft(`{`+entry("a", "F64", "[2]", 0, 8)+`}`, f32x2), []string{"shape [2] of F64 needs 16 bytes"}},
		{"partial byte", craft(`{`+entry("a", "F4", "[3]", 0, 1)+`}`, []byte{0}), []string{"3 elements of F4 do not fill a whole number of bytes"}},
		{"negative shape", craft(`{`+entry("a", "F32", "[-1]", 0, 4)+`}`, le32(1)), []string{`tensor "a": shape holds negative value -1`}},
		{"fractional shape", craft(`{`+entry("a", "F32", "[1.0]", 0, 4)+`}`, le32(1)), []string{"shape holds 1.0, not an integer"}},
		{"exponent shape", craft(`{`+entry("a", "F32", "[1e0]", 0, 4)+`}`, le32(1)), []string{"not an integer"}},
		{"string shape", craft(`{`+entry("a", "F32", `["1"]`, 0, 4)+`}`, le32(1)), []string{`shape holds "1", not an integer`}},
		{"null shape", craft(`{`+entry("a", "F32", `null`, 0, 4)+`}`, le32(1)), []string{`shape is null, not an array`}},
		{"nested shape", craft(`{`+entry("a", "F32", `[[1]]`, 0, 4)+`}`, le32(1)), []string{`shape holds an array, not an integer`}},
		{"overflowing shape", craft(`{`+entry("a", "F32", "[4294967296,4294967296,16]", 0, 4)+`}`, le32(1)), []string{"shape [4294967296 4294967296 16] is too large"}},
		{"overflowing bytes", craft(`{`+entry("a", "F32", "[4611686018427387904]", 0, 4)+`}`, le32(1)), []string{"too large"}},
		{"overflow before a zero", craft(`{`+entry("a", "F32", "[4294967296,4294967296,0]", 0, 0)+`}`, nil), []string{"too large"}},
		{"too many dimensions", craft(`{`+entry("a", "F32", "["+strings.Repeat("1,", 64)+"1]", 0, 4)+`}`, le32(1)), []string{"shape has more than 64 dimensions"}},
		{"metadata not strings", craft(`{"__metadata__":{"step":1}}`, nil), []string{`__metadata__ value of "step" is the number 1, not a string`}},
		{"metadata nested", craft(`{"__metadata__":{"config":{"a":"b"}}}`, nil), []string{`value of "config" is an object, not a string`}},
		{"metadata not an object", craft(`{"__metadata__":"x"}`, nil), []string{"__metadata__ is not a JSON object"}},
		{"metadata null", craft(`{"__metadata__":null}`, nil), []string{"__metadata__ is not a JSON object"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Decode(c.file, "bad.safetensors")
			if f != nil {
				t.Error("got a File along with the error")
			}
			checkErr(t, err, append([]string{"checkpoint bad.safetensors: "}, c.want...)...)
		})
	}
}

// TestDecodeClipsNames checks that a huge name from a corrupt header does not
// produce a huge error message.
func TestDecodeClipsNames(t *testing.T) {
	name := strings.Repeat("n", 1<<20)
	_, err := Decode(craft(`{"`+name+`":{"dtype":"X"}}`, nil), "big")
	checkErr(t, err, "nnn...")
	if len(err.Error()) > 400 {
		t.Errorf("error is %d bytes long", len(err.Error()))
	}
}

// TestDecodeAcceptsEdgeCases covers valid but unusual files.
func TestDecodeAcceptsEdgeCases(t *testing.T) {
	cases := []struct {
		name string
		file []byte
	}{
		{"no tensors", craft(`{}`, nil)},
		{"several empty tensors at one offset", craft(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},`+
			`"b":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"c":{"dtype":"F32","shape":[3,0],"data_offsets":[4,4]}}`, le32(1))},
		{"huge dimension times zero", craft(`{"a":{"dtype":"F32","shape":[0,2147483647],"data_offsets":[0,0]}}`, nil)},
		{"packed dtype", craft(`{"a":{"dtype":"F4","shape":[4],"data_offsets":[0,2]}}`, []byte{0, 0})},
		{"empty name", craft(`{"":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, le32(1))},
		{"escaped name", craft(`{"a\"\n\u00e9":{"dtype":"F32","shape":[],"data_offsets":[0,4]}}`, le32(1))},
		{"header at the limit of the file", craft(`{}`+strings.Repeat(" ", 6), nil)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Decode(c.file, "ok"); err != nil {
				t.Error(err)
			}
		})
	}
}
