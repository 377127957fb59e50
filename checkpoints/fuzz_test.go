package checkpoints

import (
	"bytes"
	"maps"
	"strings"
	"testing"
)

// FuzzDecode checks that Decode never panics and never trusts the file: any
// error is one line naming the file, and any file it accepts can be read in
// full and written back to an equal file.
func FuzzDecode(f *testing.F) {
	valid := encode(f, sampleTensors(), sampleMeta().Encode())
	f.Add(valid)
	f.Add(valid[:len(valid)-3])
	f.Add(valid[:20])
	f.Add(encode(f, nil, nil))
	f.Add(craftLen(1<<62, []byte("{}")))
	f.Add(craft(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, le32(1, 2)))
	f.Add(craft(`{"a":{"dtype":"F16","shape":[2,0,3],"data_offsets":[0,0]},"b":{"dtype":"BF16","shape":[],"data_offsets":[0,2]}}`, []byte{1, 2}))
	f.Add(craft(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, le32(1, 2)))
	f.Add(craft(`{"__metadata__":{"k":"v"},"x":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}}`, []byte{7}))

	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Decode(data, "fuzz")
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "checkpoint fuzz: ") || strings.ContainsAny(msg, "\r\n") {
				t.Fatalf("bad error message %q", msg)
			}
			return
		}
		var tensors []Tensor
		allF32 := true
		for _, name := range file.Names() {
			shape, ok := file.Shape(name)
			if !ok {
				t.Fatalf("Names lists %q but Shape does not know it", name)
			}
			values, err := file.Tensor(name, shape)
			if err != nil {
				allF32 = false
				continue
			}
			tensors = append(tensors, Tensor{Name: name, Shape: shape, Data: values})
		}
		if !allF32 {
			return
		}
		if len(file.Unused()) != 0 {
			t.Fatalf("Unused = %q after taking every tensor", file.Unused())
		}
		var b bytes.Buffer
		if err := Encode(&b, tensors, file.Meta); err != nil {
			if _, empty := file.Shape(""); empty {
				return // decodable, but aigc never writes an empty name
			}
			t.Fatalf("decoded file does not encode again: %v", err)
		}
		again, err := Decode(b.Bytes(), "again")
		if err != nil {
			t.Fatalf("re-encoded file does not decode: %v", err)
		}
		if !maps.Equal(again.Meta, file.Meta) {
			t.Fatalf("metadata changed: %v, then %v", file.Meta, again.Meta)
		}
		for _, tt := range tensors {
			values, err := again.Tensor(tt.Name, tt.Shape)
			if err != nil || !sameBits(values, tt.Data) {
				t.Fatalf("tensor %q changed: %v, then %v (%v)", tt.Name, tt.Data, values, err)
			}
		}
	})
}
