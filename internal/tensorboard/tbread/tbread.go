// Package tbread reads TensorBoard event files back, for tests, independently of the
// writer: the TFRecord framing with its own checksum code, and each Event with the
// protobuf library's decoder, driven by descriptors of TensorFlow's messages declared
// here as event.proto, summary.proto, tensor.proto and tensor_shape.proto declare them
// (the fields aigc writes and the oneof members around them), not by the hand encoding
// under test.
package tbread

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// Event is one decoded record: the file version, or one summary value.
type Event struct {
	WallTime    float64
	Step        int
	FileVersion string
	Tag         string
	Kind        string // "scalar", "image" or "text"
	Value       float32
	Image       []byte // the encoded PNG
	Height      int
	Width       int
	Colorspace  int
	Text        string
	Plugin      string // the text's plugin
}

// Dir reads every event file of a folder (events.out.tfevents.*), in name order.
func Dir(dir string) ([]Event, error) {
	names, err := filepath.Glob(filepath.Join(dir, "events.out.tfevents.*"))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var all []Event
	for _, n := range names {
		evs, err := File(n)
		if err != nil {
			return nil, err
		}
		all = append(all, evs...)
	}
	return all, nil
}

// File reads the events of one event file.
func File(path string) ([]Event, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	typ, err := eventType()
	if err != nil {
		return nil, err
	}
	var out []Event
	for len(b) > 0 {
		if len(b) < 16 {
			return nil, fmt.Errorf("%s: %d bytes left, not a record", path, len(b))
		}
		n := binary.LittleEndian.Uint64(b)
		if masked(b[:8]) != binary.LittleEndian.Uint32(b[8:]) || n > uint64(len(b)-16) {
			return nil, fmt.Errorf("%s: bad record header", path)
		}
		data := b[12 : 12+n]
		if masked(data) != binary.LittleEndian.Uint32(b[12+n:]) {
			return nil, fmt.Errorf("%s: bad record checksum", path)
		}
		b = b[16+n:]
		m := typ.New().Interface()
		if err := proto.Unmarshal(data, m); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		e, err := decode(m.ProtoReflect())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// masked is TFRecord's checksum, written out from its definition.
func masked(b []byte) uint32 {
	c := crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli))
	return ((c >> 15) | (c << 17)) + 0xa282ead8
}

func field(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, msg string, repeated bool) *descriptorpb.FieldDescriptorProto {
	label := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	if repeated {
		label = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	}
	f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(),
		Label: label.Enum(), JsonName: proto.String(name)}
	if msg != "" {
		f.TypeName = proto.String(".tensorflow." + msg)
	}
	return f
}

const (
	tDouble  = descriptorpb.FieldDescriptorProto_TYPE_DOUBLE
	tFloat   = descriptorpb.FieldDescriptorProto_TYPE_FLOAT
	tInt64   = descriptorpb.FieldDescriptorProto_TYPE_INT64
	tInt32   = descriptorpb.FieldDescriptorProto_TYPE_INT32
	tString  = descriptorpb.FieldDescriptorProto_TYPE_STRING
	tBytes   = descriptorpb.FieldDescriptorProto_TYPE_BYTES
	tMessage = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
)

func message(name string, fields ...*descriptorpb.FieldDescriptorProto) *descriptorpb.DescriptorProto {
	return &descriptorpb.DescriptorProto{Name: proto.String(name), Field: fields}
}

// eventType is tensorflow.Event's descriptor.
var eventType = sync.OnceValues(func() (protoreflect.MessageType, error) {
	summary := message("Summary", field("value", 1, tMessage, "Summary.Value", true))
	summary.NestedType = []*descriptorpb.DescriptorProto{
		message("Image", field("height", 1, tInt32, "", false), field("width", 2, tInt32, "", false),
			field("colorspace", 3, tInt32, "", false), field("encoded_image_string", 4, tBytes, "", false)),
		message("Value", field("tag", 1, tString, "", false), field("simple_value", 2, tFloat, "", false),
			field("obsolete_old_style_histogram", 3, tBytes, "", false), field("image", 4, tMessage, "Summary.Image", false),
			field("node_name", 7, tString, "", false), field("tensor", 8, tMessage, "TensorProto", false),
			field("metadata", 9, tMessage, "SummaryMetadata", false)),
	}
	metadata := message("SummaryMetadata", field("plugin_data", 1, tMessage, "SummaryMetadata.PluginData", false),
		field("display_name", 2, tString, "", false), field("summary_description", 3, tString, "", false))
	metadata.NestedType = []*descriptorpb.DescriptorProto{
		message("PluginData", field("plugin_name", 1, tString, "", false), field("content", 2, tBytes, "", false))}
	shape := message("TensorShapeProto", field("dim", 2, tMessage, "TensorShapeProto.Dim", true))
	shape.NestedType = []*descriptorpb.DescriptorProto{
		message("Dim", field("size", 1, tInt64, "", false), field("name", 2, tString, "", false))}
	file := &descriptorpb.FileDescriptorProto{
		Name: proto.String("tensorflow_events.proto"), Package: proto.String("tensorflow"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{
			message("Event", field("wall_time", 1, tDouble, "", false), field("step", 2, tInt64, "", false),
				field("file_version", 3, tString, "", false), field("graph_def", 4, tBytes, "", false),
				field("summary", 5, tMessage, "Summary", false)),
			summary, metadata, shape,
			message("TensorProto", field("dtype", 1, tInt32, "", false), field("tensor_shape", 2, tMessage, "TensorShapeProto", false),
				field("string_val", 8, tBytes, "", true)),
		},
	}
	fd, err := protodesc.NewFile(file, nil)
	if err != nil {
		return nil, err
	}
	return dynamicpb.NewMessageType(fd.Messages().ByName("Event")), nil
})

func get(m protoreflect.Message, name string) protoreflect.Value {
	return m.Get(m.Descriptor().Fields().ByName(protoreflect.Name(name)))
}

func has(m protoreflect.Message, name string) bool {
	return m.Has(m.Descriptor().Fields().ByName(protoreflect.Name(name)))
}

func decode(m protoreflect.Message) (Event, error) {
	e := Event{WallTime: get(m, "wall_time").Float(), Step: int(get(m, "step").Int()), FileVersion: get(m, "file_version").String()}
	if !has(m, "summary") {
		return e, nil
	}
	values := get(get(m, "summary").Message(), "value").List()
	if values.Len() != 1 {
		return e, fmt.Errorf("%d values in one event", values.Len())
	}
	v := values.Get(0).Message()
	e.Tag = get(v, "tag").String()
	switch {
	case has(v, "image"):
		img := get(v, "image").Message()
		e.Kind, e.Image = "image", get(img, "encoded_image_string").Bytes()
		e.Height, e.Width = int(get(img, "height").Int()), int(get(img, "width").Int())
		e.Colorspace = int(get(img, "colorspace").Int())
	case has(v, "tensor"):
		tensor := get(v, "tensor").Message()
		if dt := get(tensor, "dtype").Int(); dt != 7 {
			return e, fmt.Errorf("a text tensor of dtype %d, not DT_STRING", dt)
		}
		strs := get(tensor, "string_val").List()
		if strs.Len() != 1 {
			return e, fmt.Errorf("a text tensor of %d strings", strs.Len())
		}
		e.Kind, e.Text = "text", string(strs.Get(0).Bytes())
		e.Plugin = get(get(get(v, "metadata").Message(), "plugin_data").Message(), "plugin_name").String()
	case has(v, "simple_value"):
		e.Kind, e.Value = "scalar", float32(get(v, "simple_value").Float())
	default:
		return e, fmt.Errorf("value %q holds nothing aigc writes", e.Tag)
	}
	return e, nil
}

// Scalars returns the scalar events as tag → step → value, failing on a tag logged twice
// at one step.
func Scalars(events []Event) (map[string]map[int]float32, error) {
	out := map[string]map[int]float32{}
	for _, e := range events {
		if e.Kind != "scalar" {
			continue
		}
		if out[e.Tag] == nil {
			out[e.Tag] = map[int]float32{}
		}
		if _, dup := out[e.Tag][e.Step]; dup {
			return nil, fmt.Errorf("%s logged twice at step %d", e.Tag, e.Step)
		}
		out[e.Tag][e.Step] = e.Value
	}
	return out, nil
}

// Tags lists the tags of events, sorted, for messages.
func Tags(events []Event) string {
	seen := map[string]bool{}
	for _, e := range events {
		if e.Tag != "" {
			seen[e.Tag] = true
		}
	}
	var tags []string
	for t := range seen {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	return strings.Join(tags, ", ")
}
