package checkpoints

// dtypeF32 is the only dtype aigc writes and the only one Tensor converts.
const dtypeF32 = "F32"

// dtypeBits is the element width, in bits, of every dtype the reference
// implementation (huggingface/safetensors 0.6 and later) defines. Decode has
// to know them all so that a file holding, say, F16 tensors still parses and
// fails only when such a tensor is taken, with a message naming the dtype,
// instead of being reported as corrupt. Widths are in bits because F4 and the
// F6 types pack several elements into a byte.
var dtypeBits = map[string]uint64{
	"BOOL":        8,
	"F4":          4,
	"F6_E2M3":     6,
	"F6_E3M2":     6,
	"U8":          8,
	"I8":          8,
	"F8_E5M2":     8,
	"F8_E4M3":     8,
	"F8_E8M0":     8,
	"F8_E4M3FNUZ": 8,
	"F8_E5M2FNUZ": 8,
	"I16":         16,
	"U16":         16,
	"F16":         16,
	"BF16":        16,
	"I32":         32,
	"U32":         32,
	"F32":         32,
	"C64":         64,
	"F64":         64,
	"I64":         64,
	"U64":         64,
}
