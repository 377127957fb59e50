// Package tensorboard writes TensorBoard event files: scalars, images and text, as
// TensorFlow's and PyTorch's SummaryWriter do, so `tensorboard --logdir RUN/tb` shows an
// aigc run. No maintained Go writer exists, and the format is small: a file of TFRecords
// (a length, its masked CRC-32C, the data, the data's masked CRC-32C), each holding one
// tensorflow.Event protocol buffer, encoded here field by field with protowire.
package tensorboard

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of the messages written (tensorflow/core/util/event.proto,
// tensorflow/core/framework/summary.proto, tensor.proto, tensor_shape.proto).
const (
	eventWallTime    = 1 // double
	eventStep        = 2 // int64
	eventFileVersion = 3 // string
	eventSummary     = 5 // Summary

	summaryValue = 1 // repeated Value

	valueTag      = 1 // string
	valueSimple   = 2 // float
	valueImage    = 4 // Summary.Image
	valueTensor   = 8 // TensorProto
	valueMetadata = 9 // SummaryMetadata

	imageHeight     = 1 // int32
	imageWidth      = 2 // int32
	imageColorspace = 3 // int32: 1 grayscale, 3 RGB, 4 RGBA
	imageEncoded    = 4 // bytes: a PNG

	metadataPluginData = 1 // SummaryMetadata.PluginData
	pluginName         = 1 // string

	tensorDtype     = 1 // DataType
	tensorShape     = 2 // TensorShapeProto (empty: a scalar)
	tensorStringVal = 8 // repeated bytes
	dtString        = 7 // DT_STRING
)

// fileVersion is the first event of every file, which readers check.
const fileVersion = "brain.Event:2"

// Prefix starts the name of every event file, which TensorBoard looks for.
const Prefix = "events.out.tfevents."

// Writer appends events to one event file, which it creates with its first event (a
// session that logs nothing leaves no file).
type Writer struct {
	dir  string
	f    *os.File
	w    *bufio.Writer
	path string
	now  func() time.Time
}

// NewWriter returns a writer of a new event file in dir (created if need be), named as
// TensorFlow names them, so that several sessions of one run are several files
// TensorBoard reads as one.
func NewWriter(dir string) *Writer { return &Writer{dir: dir, now: time.Now} }

// open creates the file and writes its first event, the file version.
func (w *Writer) open() error {
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return err
	}
	dir := w.dir
	host, _ := os.Hostname()
	host = strings.ReplaceAll(host, "/", "_")
	now := time.Now()
	var f *os.File
	var err error
	for n := 0; ; n++ { // two writers of one process in one second differ by the counter
		path := filepath.Join(dir, fmt.Sprintf("%s%010d.%s.%d.%d", Prefix, now.Unix(), host, os.Getpid(), n))
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if !errors.Is(err, os.ErrExist) {
			break
		}
	}
	if err != nil {
		return err
	}
	w.f, w.w, w.path = f, bufio.NewWriter(f), f.Name()
	ev := appendString(nil, eventFileVersion, fileVersion)
	return w.event(0, ev)
}

// Path is the event file's path ("" before the first event).
func (w *Writer) Path() string { return w.path }

// Scalar records a value under tag at step.
func (w *Writer) Scalar(tag string, step int, v float64) error {
	val := appendString(nil, valueTag, tag)
	val = protowire.AppendTag(val, valueSimple, protowire.Fixed32Type)
	val = protowire.AppendFixed32(val, math.Float32bits(float32(v)))
	return w.summary(step, val)
}

// Image records a PNG of the given size and colour channels (1 grey, 3 RGB, 4 RGBA).
func (w *Writer) Image(tag string, step int, png []byte, height, width, channels int) error {
	img := appendVarint(nil, imageHeight, uint64(height))
	img = appendVarint(img, imageWidth, uint64(width))
	img = appendVarint(img, imageColorspace, uint64(channels))
	img = appendBytes(img, imageEncoded, png)

	val := appendString(nil, valueTag, tag)
	val = appendBytes(val, valueImage, img)
	return w.summary(step, val)
}

// Text records a text (shown by TensorBoard's text plugin, Markdown rendered).
func (w *Writer) Text(tag string, step int, text string) error {
	plugin := appendString(nil, pluginName, "text")
	meta := appendBytes(nil, metadataPluginData, plugin)

	tensor := appendVarint(nil, tensorDtype, dtString)
	tensor = appendBytes(tensor, tensorShape, nil) // no dimensions: a scalar
	tensor = appendString(tensor, tensorStringVal, text)

	val := appendString(nil, valueTag, tag)
	val = appendBytes(val, valueMetadata, meta)
	val = appendBytes(val, valueTensor, tensor)
	return w.summary(step, val)
}

// Flush hands what was written to the file, where TensorBoard reads it while the run goes
// on.
func (w *Writer) Flush() error {
	if w.w == nil {
		return nil
	}
	return w.w.Flush()
}

// Close flushes and closes the file.
func (w *Writer) Close() error {
	if w.f == nil {
		return nil
	}
	err := w.w.Flush()
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// summary writes an event holding one Summary.Value.
func (w *Writer) summary(step int, value []byte) error {
	sum := appendBytes(nil, summaryValue, value)
	ev := appendBytes(nil, eventSummary, sum)
	return w.event(step, ev)
}

// event writes an Event of the wall time, step and the given fields as one record.
func (w *Writer) event(step int, fields []byte) error {
	if w.f == nil {
		if err := w.open(); err != nil {
			return err
		}
	}
	t := w.now()
	var ev []byte
	ev = protowire.AppendTag(ev, eventWallTime, protowire.Fixed64Type)
	ev = protowire.AppendFixed64(ev, math.Float64bits(float64(t.UnixNano())/1e9))
	ev = appendVarint(ev, eventStep, uint64(step))
	return writeRecord(w.w, append(ev, fields...))
}

// The three kinds of field written, each its tag and then its value.

func appendString(b []byte, num protowire.Number, v string) []byte {
	return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), v)
}

func appendBytes(b []byte, num protowire.Number, v []byte) []byte {
	return protowire.AppendBytes(protowire.AppendTag(b, num, protowire.BytesType), v)
}

func appendVarint(b []byte, num protowire.Number, v uint64) []byte {
	return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), v)
}

// TFRecord framing.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maskedCRC is TFRecord's checksum: CRC-32C, rotated right by 15 bits, plus a constant,
// so that the checksum of data holding checksums is not itself trivial.
func maskedCRC(b []byte) uint32 {
	c := crc32.Checksum(b, castagnoli)
	return (c>>15 | c<<17) + 0xa282ead8
}

func writeRecord(w io.Writer, data []byte) error {
	head := binary.LittleEndian.AppendUint64(nil, uint64(len(data)))
	head = binary.LittleEndian.AppendUint32(head, maskedCRC(head))
	rec := append(head, data...)
	rec = binary.LittleEndian.AppendUint32(rec, maskedCRC(data))
	_, err := w.Write(rec)
	return err
}

// ReadRecords returns the records of a TFRecord file, checking both checksums of each.
// A record cut short at the end (a writer killed mid-write) ends the file without error.
func ReadRecords(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for off := 0; off < len(b); {
		if len(b)-off < 12 {
			break // a torn header
		}
		head := b[off : off+8]
		if binary.LittleEndian.Uint32(b[off+8:]) != maskedCRC(head) {
			return out, fmt.Errorf("%s: record at byte %d: bad length checksum", path, off)
		}
		n := binary.LittleEndian.Uint64(head)
		if n > uint64(len(b)-off-16) {
			break // a torn record
		}
		data := b[off+12 : off+12+int(n)]
		if binary.LittleEndian.Uint32(b[off+12+int(n):]) != maskedCRC(data) {
			return out, fmt.Errorf("%s: record at byte %d: bad data checksum", path, off)
		}
		out = append(out, data)
		off += 16 + int(n)
	}
	return out, nil
}

// EventStep returns the step field of an encoded Event (0 when absent).
func EventStep(event []byte) (int, error) {
	for len(event) > 0 {
		num, typ, n := protowire.ConsumeTag(event)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		event = event[n:]
		if num == eventStep && typ == protowire.VarintType {
			v, n := protowire.ConsumeVarint(event)
			if n < 0 {
				return 0, protowire.ParseError(n)
			}
			return int(int64(v)), nil
		}
		n = protowire.ConsumeFieldValue(num, typ, event)
		if n < 0 {
			return 0, protowire.ParseError(n)
		}
		event = event[n:]
	}
	return 0, nil
}

// Truncate drops, from every event file in dir, the events after step keep (logged by a
// run after the checkpoint it is resumed from), as the metrics log is cut back, so that
// TensorBoard shows each step once. Each file is rewritten atomically.
func Truncate(dir string, keep int) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !e.Type().IsRegular() || !strings.HasPrefix(e.Name(), Prefix) {
			continue
		}
		if err := truncateFile(filepath.Join(dir, e.Name()), keep); err != nil {
			return err
		}
	}
	return nil
}

func truncateFile(path string, keep int) error {
	recs, err := ReadRecords(path)
	if err != nil {
		return err
	}
	var kept []byte
	dropped := false
	for _, r := range recs {
		step, err := EventStep(r)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if step > keep {
			dropped = true
			continue
		}
		var buf bufferWriter
		writeRecord(&buf, r)
		kept = append(kept, buf...)
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !dropped && int64(len(kept)) == info.Size() {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(kept)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

type bufferWriter []byte

func (b *bufferWriter) Write(p []byte) (int, error) {
	*b = append(*b, p...)
	return len(p), nil
}
