package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/internal/tensorboard"
	"github.com/aigc-go/aigc/models"
)

// metricsLog records a run's metrics twice: one JSON object per line in metrics.jsonl,
// and the same values as TensorBoard scalars in RUN/tb (tag "train/loss", "eval/fid",
// "train/lr", "train/samples_per_s"...), beside the per-epoch samples.
type metricsLog struct {
	f  *os.File
	tb *tensorboard.Writer
}

// openMetrics opens the run's metrics log for appending. Resuming from step `keep` first
// drops what a crashed run logged after its last checkpoint, so that the logs match the
// run's state.
func openMetrics(dir string, keep int, fresh bool) (*metricsLog, error) {
	path, tbDir := filepath.Join(dir, MetricsFile), filepath.Join(dir, TensorBoardDir)
	if fresh {
		for _, p := range []string{path, tbDir} {
			if err := os.RemoveAll(p); err != nil {
				return nil, err
			}
		}
	} else {
		if err := truncateAfter(path, keep); err != nil {
			return nil, err
		}
		if err := tensorboard.Truncate(tbDir, keep); err != nil {
			return nil, fmt.Errorf("TensorBoard log: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	return &metricsLog{f: f, tb: tensorboard.NewWriter(tbDir)}, nil
}

func truncateAfter(path string, step int) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var kept bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		var rec struct {
			Step *int `json:"step"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Step == nil || *rec.Step > step {
			continue
		}
		kept.Write(sc.Bytes())
		kept.WriteByte('\n')
	}
	if kept.Len() == len(data) {
		return nil
	}
	return checkpoints.WriteAtomic(path, func(w io.Writer) error {
		_, err := w.Write(kept.Bytes())
		return err
	})
}

// record is one line: fixed fields first, then the model's metrics.
type record struct {
	Kind  string // "train" or "eval"
	Step  int
	Epoch float64
	Wall  float64
	LR    float64
	Rate  float64 // samples (or tokens) per second
	Unit  string  // "samples" or "tokens"
	Items models.Metrics
}

// values are a record's numbers, in the order the line lists them after its step.
func (r record) values() models.Metrics {
	vs := models.Metrics{{Name: "epoch", Value: r.Epoch}, {Name: "wall_s", Value: r.Wall}}
	if r.LR > 0 {
		vs = append(vs, models.Metric{Name: "lr", Value: r.LR})
	}
	if r.Rate > 0 {
		unit := r.Unit
		if unit == "" {
			unit = "samples"
		}
		vs = append(vs, models.Metric{Name: unit + "_per_s", Value: r.Rate})
	}
	return append(vs, r.Items...)
}

func (l *metricsLog) write(r record) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"kind":%q,"step":%d`, r.Kind, r.Step)
	for _, v := range r.values() {
		fmt.Fprintf(&b, `,%q:%s`, v.Name, num(v.Value))
	}
	b.WriteString("}\n")
	if _, err := l.f.Write(b.Bytes()); err != nil {
		return err
	}
	for _, v := range r.values() {
		if v.Name == "wall_s" {
			continue // TensorBoard keeps each event's wall time itself
		}
		if err := l.tb.Scalar(r.Kind+"/"+v.Name, r.Step, v.Value); err != nil {
			return err
		}
	}
	return l.tb.Flush()
}

// artifact records a file a run wrote at a step in TensorBoard: a PNG as an image, text as
// text, under tag.
func (l *metricsLog) artifact(tag string, step int, path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	switch filepath.Ext(path) {
	case ".png":
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		channels := 4
		switch cfg.ColorModel {
		case color.GrayModel, color.Gray16Model:
			channels = 1
		case color.RGBAModel, color.NRGBAModel:
			channels = 4
		}
		err = l.tb.Image(tag, step, b, cfg.Height, cfg.Width, channels)
	case ".txt":
		err = l.tb.Text(tag, step, string(b))
	default:
		return nil
	}
	if err != nil {
		return err
	}
	return l.tb.Flush()
}

// num formats a float for JSON; NaN and Inf, which JSON lacks, become null.
func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "null"
	}
	return strconv.FormatFloat(v, 'g', 7, 64)
}

func (l *metricsLog) Close() error {
	err := l.f.Close()
	if terr := l.tb.Close(); err == nil {
		err = terr
	}
	return err
}
