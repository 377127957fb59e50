package tensorboard

import (
	"bytes"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aigc-go/aigc/internal/tensorboard/tbread"
)

func TestWriteAndReadBack(t *testing.T) {
	dir := t.TempDir()
	w := NewWriter(dir)
	png := []byte("\x89PNG not really")
	for _, err := range []error{
		w.Scalar("train/loss", 10, 1.25),
		w.Scalar("eval/loss", 10, -3e-8),
		w.Image("samples", 20, png, 30, 40, 1),
		w.Text("samples", 20, "ROMEO:\nO, she doth teach the torches…"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(filepath.Base(w.Path()), Prefix) {
		t.Fatalf("file %s", w.Path())
	}
	events, err := tbread.File(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 5 || events[0].FileVersion != "brain.Event:2" || events[0].WallTime < 1e9 {
		t.Fatalf("events %+v", events)
	}
	want := []tbread.Event{
		{Step: 10, Tag: "train/loss", Kind: "scalar", Value: 1.25},
		{Step: 10, Tag: "eval/loss", Kind: "scalar", Value: -3e-8},
		{Step: 20, Tag: "samples", Kind: "image", Image: png, Height: 30, Width: 40, Colorspace: 1},
		{Step: 20, Tag: "samples", Kind: "text", Text: "ROMEO:\nO, she doth teach the torches…", Plugin: "text"},
	}
	for i, w := range want {
		got := events[i+1]
		got.WallTime = 0
		if got.Step != w.Step || got.Tag != w.Tag || got.Kind != w.Kind || got.Value != w.Value || !bytes.Equal(got.Image, w.Image) ||
			got.Height != w.Height || got.Width != w.Width || got.Colorspace != w.Colorspace || got.Text != w.Text || got.Plugin != w.Plugin {
			t.Errorf("event %d: got %+v, want %+v", i+1, got, w)
		}
	}
}

// The framing's checksum is TFRecord's: CRC-32C (whose check value, over "123456789", is
// 0xe3069283), rotated right by 15 bits, plus 0xa282ead8.
func TestMaskedCRC(t *testing.T) {
	if c := crc32.Checksum([]byte("123456789"), castagnoli); c != 0xe3069283 {
		t.Fatalf("crc32c %#x", c)
	}
	if got := maskedCRC([]byte("123456789")); got != 0xc78ab0e5 { // 0x2507c60d + 0xa282ead8
		t.Fatalf("masked %#x", got)
	}
}

// A damaged record is reported; one cut short at the end (a writer killed mid-write) ends
// the file quietly.
func TestReadRecordsDamage(t *testing.T) {
	dir := t.TempDir()
	w := NewWriter(dir)
	w.Scalar("x", 1, 2)
	w.Close()
	b, _ := os.ReadFile(w.Path())
	torn := filepath.Join(dir, "torn")
	os.WriteFile(torn, b[:len(b)-3], 0o644)
	if recs, err := ReadRecords(torn); err != nil || len(recs) != 1 {
		t.Fatalf("torn: %d records, %v", len(recs), err)
	}
	bad := append([]byte(nil), b...)
	bad[len(bad)-6] ^= 1
	os.WriteFile(torn, bad, 0o644)
	if _, err := ReadRecords(torn); err == nil || !strings.Contains(err.Error(), "bad data checksum") {
		t.Fatalf("damaged: %v", err)
	}
}

// Truncate keeps the events up to a step, in every event file of a folder.
// A writer that writes nothing leaves no file.
func TestNoEventsNoFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tb")
	w := NewWriter(dir)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("stat %s: %v", dir, err)
	}
}

func TestTruncate(t *testing.T) {
	dir := t.TempDir()
	w := NewWriter(dir)
	for step := 1; step <= 5; step++ {
		w.Scalar("loss", step, float64(step))
	}
	w.Close()
	if err := Truncate(dir, 3); err != nil {
		t.Fatal(err)
	}
	events, err := tbread.File(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	var steps []int
	for _, e := range events {
		steps = append(steps, e.Step)
	}
	if len(steps) != 4 || steps[3] != 3 {
		t.Fatalf("steps %v after truncating to 3", steps)
	}
	if err := Truncate(filepath.Join(dir, "none"), 3); err != nil {
		t.Fatal(err)
	}
}
