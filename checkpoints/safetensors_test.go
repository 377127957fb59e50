package checkpoints

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func sampleTensors() []Tensor {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	return []Tensor{
		{Name: "encoder.fc1.weight", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
		{Name: "encoder.fc1.bias", Shape: []int{3}, Data: []float32{nan, inf, negZero}},
		{Name: "scale", Shape: []int{}, Data: []float32{3.5}},
		{Name: "nil_scalar", Shape: nil, Data: []float32{-1}},
		{Name: "empty", Shape: []int{0, 4}, Data: nil},
		{Name: "zero", Shape: []int{0}, Data: []float32{}},
		{Name: "odd<&>name", Shape: []int{1}, Data: []float32{math.MaxFloat32}},
	}
}

func TestRoundTrip(t *testing.T) {
	tensors := sampleTensors()
	meta := map[string]string{"family": "vae", "note": "a<b & \"c\"\n", "empty": ""}
	data := encode(t, tensors, meta)

	f, err := Decode(data, "mem")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Meta, meta) {
		t.Errorf("Meta = %v, want %v", f.Meta, meta)
	}
	var names []string
	for _, tt := range tensors {
		names = append(names, tt.Name)
	}
	slices.Sort(names)
	if got := f.Names(); !slices.Equal(got, names) {
		t.Errorf("Names = %q, want %q", got, names)
	}
	for _, tt := range tensors {
		got, err := f.Tensor(tt.Name, tt.Shape)
		if err != nil {
			t.Errorf("Tensor(%q): %v", tt.Name, err)
			continue
		}
		if !sameBits(got, tt.Data) {
			t.Errorf("Tensor(%q) = %v, want %v", tt.Name, got, tt.Data)
		}
	}
	if u := f.Unused(); len(u) != 0 {
		t.Errorf("Unused = %q after taking everything", u)
	}
	if err := f.ExpectAllUsed(); err != nil {
		t.Error(err)
	}
}

func TestEncodeIsDeterministic(t *testing.T) {
	tensors := sampleTensors()
	meta := map[string]string{"b": "2", "a": "1", "c": "3"}
	first := encode(t, tensors, meta)
	slices.Reverse(tensors)
	if second := encode(t, tensors, meta); !bytes.Equal(first, second) {
		t.Error("encoding depends on the order of the tensors")
	}
	if tensors[0].Name != "odd<&>name" {
		t.Error("Encode reordered the caller's slice")
	}
}

func TestEncodeAlignsData(t *testing.T) {
	// Names of every length mod 8 give every possible amount of padding.
	for n := 1; n <= 16; n++ {
		data := encode(t, []Tensor{{Name: strings.Repeat("x", n), Shape: []int{1}, Data: []float32{1}}}, nil)
		hlen := binary.LittleEndian.Uint64(data)
		if (8+hlen)%8 != 0 {
			t.Errorf("name length %d: data starts at %d, not 8-byte aligned", n, 8+hlen)
		}
		header := string(data[8 : 8+hlen])
		if trimmed := strings.TrimRight(header, " "); !strings.HasSuffix(trimmed, "}") || len(header)-len(trimmed) > 7 {
			t.Errorf("name length %d: header %q is not JSON plus at most 7 spaces", n, header)
		}
	}
}

// TestEncodeMatchesReference checks byte for byte against what the reference
// implementation (huggingface/safetensors, serialize) produces for the same
// input, as pinned in its own tests.
func TestEncodeMatchesReference(t *testing.T) {
	values := []float32{0, 1, 2, 3, 4, 5}
	cases := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		header  string
		data    []byte
	}{
		{
			name:    "one tensor, no padding needed",
			tensors: []Tensor{{Name: "attn.0", Shape: []int{1, 2, 3}, Data: values}},
			header:  `{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}`,
			data:    le32(values...),
		},
		{
			name:    "one tensor, padded",
			tensors: []Tensor{{Name: "attn0", Shape: []int{1, 1, 2, 3}, Data: values}},
			header:  `{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}       `,
			data:    le32(values...),
		},
		{
			name:   "empty",
			header: `{}      `,
		},
		{
			name:   "metadata only",
			meta:   map[string]string{"framework": "pt"},
			header: `{"__metadata__":{"framework":"pt"}}     `,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := craft(c.header, c.data)
			if got := encode(t, c.tensors, c.meta); !bytes.Equal(got, want) {
				t.Errorf("got\n%q\nwant\n%q", got, want)
			}
		})
	}
}

// TestDecodeHandBuilt reads files written the way other tools may write
// them: unpadded, keys in another order, tensors out of offset order, extra
// whitespace, and a dtype aigc does not read.
func TestDecodeHandBuilt(t *testing.T) {
	header := ` { "w" : {"data_offsets":[8,16], "shape":[2], "dtype":"F32"},
		"b": {"shape":[2],"dtype":"F32","data_offsets":[0,8]},
		"__metadata__": {"format":"pt"} }`
	f, err := Decode(craft(header, le32(1, 2, 3, 4)), "hand.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := f.Tensor("w", []int{2}); err != nil || !sameBits(got, []float32{3, 4}) {
		t.Errorf("w = %v, %v; want [3 4]", got, err)
	}
	if got, err := f.Tensor("b", []int{2}); err != nil || !sameBits(got, []float32{1, 2}) {
		t.Errorf("b = %v, %v; want [1 2]", got, err)
	}
	if f.Meta["format"] != "pt" {
		t.Errorf("Meta = %v", f.Meta)
	}

	// The example from the safetensors documentation.
	doc := craft(`{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}`, make([]byte, 16))
	f, err = Decode(doc, "doc.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if shape, ok := f.Shape("test"); !ok || !slices.Equal(shape, []int{2, 2}) {
		t.Errorf("Shape = %v, %v", shape, ok)
	}
	_, err = f.Tensor("test", []int{2, 2})
	checkErr(t, err, "checkpoint doc.safetensors:", `tensor "test"`, "dtype I32", "not supported")
	if len(f.Meta) != 0 || f.Meta == nil {
		t.Errorf("Meta = %#v, want empty map", f.Meta)
	}
}

func TestTensorErrors(t *testing.T) {
	data := encode(t, []Tensor{
		{Name: "encoder.fc1.weight", Shape: []int{4, 7}, Data: make([]float32, 28)},
		{Name: "encoder.fc1.bias", Shape: []int{4}, Data: make([]float32, 4)},
		{Name: "extra.a", Shape: []int{1}, Data: make([]float32, 1)},
		{Name: "extra.b", Shape: nil, Data: make([]float32, 1)},
	}, nil)
	f, err := Decode(data, "runs/vae/latest.safetensors")
	if err != nil {
		t.Fatal(err)
	}

	_, err = f.Tensor("encoder.fc1.weight", []int{3, 7})
	want := `checkpoint runs/vae/latest.safetensors: tensor "encoder.fc1.weight" has shape [4 7], the model wants [3 7]`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	_, err = f.Tensor("extra.b", []int{1})
	checkErr(t, err, `tensor "extra.b" has shape [], the model wants [1]`)
	_, err = f.Tensor("decoder.fc1.weight", []int{3, 7})
	checkErr(t, err, "checkpoint runs/vae/latest.safetensors:", `tensor "decoder.fc1.weight" is missing`)

	if _, err := f.Tensor("encoder.fc1.bias", []int{4}); err != nil {
		t.Fatal(err)
	}
	// A failed take does not count as a use.
	if got, want := f.Unused(), []string{"encoder.fc1.weight", "extra.a", "extra.b"}; !slices.Equal(got, want) {
		t.Errorf("Unused = %q, want %q", got, want)
	}
	checkErr(t, f.ExpectAllUsed(), "checkpoint runs/vae/latest.safetensors:",
		`unexpected tensors "encoder.fc1.weight", "extra.a", "extra.b"`)
}

func TestExpectAllUsedListsAFew(t *testing.T) {
	var tensors []Tensor
	for _, name := range strings.Split("a b c d e f g h", " ") {
		tensors = append(tensors, Tensor{Name: name, Shape: []int{1}, Data: []float32{0}})
	}
	f, err := Decode(encode(t, tensors, nil), "x")
	if err != nil {
		t.Fatal(err)
	}
	checkErr(t, f.ExpectAllUsed(), `"a", "b", "c", "d", "e" and 3 more`)
	if _, err := f.Tensor("a", []int{1}); err != nil {
		t.Fatal(err)
	}
	for _, name := range strings.Split("b c d e f g", " ") {
		f.Tensor(name, []int{1})
	}
	checkErr(t, f.ExpectAllUsed(), `unexpected tensor "h", not part`)
}

func TestEncodeRejects(t *testing.T) {
	one := []float32{1}
	cases := []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    string
	}{
		{"empty name", []Tensor{{Name: "", Shape: []int{1}, Data: one}}, nil, "empty name"},
		{"reserved name", []Tensor{{Name: "__metadata__", Shape: []int{1}, Data: one}}, nil, "reserved"},
		{"duplicate", []Tensor{{Name: "a", Shape: []int{1}, Data: one}, {Name: "a", Shape: []int{1}, Data: one}}, nil, `tensor "a" appears twice`},
		{"bad UTF-8 name", []Tensor{{Name: "a\xff", Shape: []int{1}, Data: one}}, nil, "UTF-8"},
		{"bad UTF-8 metadata", nil, map[string]string{"k": "\xff"}, "UTF-8"},
		{"too few values", []Tensor{{Name: "a", Shape: []int{2, 2}, Data: one}}, nil, `tensor "a" has 1 values, but shape [2 2] holds 4`},
		{"too many values", []Tensor{{Name: "a", Shape: []int{}, Data: []float32{1, 2}}}, nil, "shape [] holds 1"},
		{"negative dimension", []Tensor{{Name: "a", Shape: []int{-1, -1}, Data: one}}, nil, "invalid shape [-1 -1]"},
		{"overflowing shape", []Tensor{{Name: "a", Shape: []int{math.MaxInt / 2, 3}, Data: one}}, nil, "invalid shape"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b bytes.Buffer
			checkErr(t, Encode(&b, c.tensors, c.meta), c.want)
			if b.Len() != 0 {
				t.Errorf("wrote %d bytes before failing", b.Len())
			}
		})
	}
}

func TestWriteRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.safetensors")
	tensors := sampleTensors()
	if err := Write(path, tensors, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	f, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Path != path || f.Meta["k"] != "v" {
		t.Errorf("Path = %q, Meta = %v", f.Path, f.Meta)
	}
	for _, tt := range tensors {
		if got, err := f.Tensor(tt.Name, tt.Shape); err != nil || !sameBits(got, tt.Data) {
			t.Errorf("Tensor(%q) = %v, %v", tt.Name, got, err)
		}
	}
}

func TestReadMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.safetensors")
	_, err := Read(path)
	if err == nil || err.Error() != "checkpoint "+path+": no such file or directory" {
		t.Errorf("got %v", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("error %v does not match fs.ErrNotExist", err)
	}
}
