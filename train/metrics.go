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
	if l == nil { // a data-parallel rank other than the lead keeps no log
		return nil
	}
	values := r.values()
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"kind":%q,"step":%d`, r.Kind, r.Step)
	for _, v := range values {
		fmt.Fprintf(&b, `,%q:%s`, v.Name, num(v.Value))
	}
	b.WriteString("}\n")
	if _, err := l.f.Write(b.Bytes()); err != nil {
		return err
	}
	for _, v := range values {
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
	if l == nil {
		return nil
	}
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
		if cfg.ColorModel == color.GrayModel || cfg.ColorModel == color.Gray16Model {
			channels = 1
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

// Line is one line of metrics.jsonl, its values in the order written: first the run's
// own (epoch, wall_s, lr, samples_per_s or tokens_per_s), then the model's metrics, of
// which the first is the loss it minimises (or, for a GAN's evaluation, the FID).
type Line struct {
	Kind   string // "train" or "eval"
	Step   int
	Values models.Metrics
}

// runValues are the values of a line that are the run's rather than the model's.
var runValues = map[string]bool{"epoch": true, "wall_s": true, "lr": true, "samples_per_s": true, "tokens_per_s": true}

// Model returns the model's metrics of the line, the loss first.
func (l Line) Model() models.Metrics {
	var out models.Metrics
	for _, v := range l.Values {
		if !runValues[v.Name] {
			out = append(out, v)
		}
	}
	return out
}

// ReadMetrics reads a run's metrics.jsonl. A null (a non-finite value) reads as NaN.
func ReadMetrics(path string) ([]Line, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var lines []Line
	for i, text := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(text)) == 0 {
			continue
		}
		l, err := parseLine(text)
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: %w", path, i+1, err)
		}
		lines = append(lines, l)
	}
	return lines, nil
}

// parseLine decodes one line token by token, keeping the order of its keys.
func parseLine(text []byte) (Line, error) {
	var l Line
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return l, errors.New("not a JSON object")
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return l, err
		}
		key, _ := tok.(string)
		if tok, err = dec.Token(); err != nil {
			return l, err
		}
		switch v := tok.(type) {
		case string:
			if key == "kind" {
				l.Kind = v
			}
		case json.Number:
			f, err := v.Float64()
			if err != nil {
				return l, err
			}
			if key == "step" {
				l.Step = int(f)
			} else {
				l.Values = append(l.Values, models.Metric{Name: key, Value: f})
			}
		case nil:
			l.Values = append(l.Values, models.Metric{Name: key, Value: math.NaN()})
		default:
			return l, fmt.Errorf("%s is not a number", key)
		}
	}
	if l.Kind == "" {
		return l, errors.New(`no "kind"`)
	}
	return l, nil
}
