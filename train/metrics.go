package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/models"
)

// metricsLog appends one JSON object per line to metrics.jsonl.
type metricsLog struct {
	f *os.File
}

// openMetrics opens path for appending. Resuming from step `keep` first drops the lines a
// crashed run logged after its last checkpoint, so that the log matches the run's state.
func openMetrics(path string, keep int, fresh bool) (*metricsLog, error) {
	if fresh {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	} else if err := truncateAfter(path, keep); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	return &metricsLog{f: f}, nil
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

func (l *metricsLog) write(r record) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"kind":%q,"step":%d,"epoch":%s,"wall_s":%s`, r.Kind, r.Step, num(r.Epoch), num(r.Wall))
	if r.LR > 0 {
		fmt.Fprintf(&b, `,"lr":%s`, num(r.LR))
	}
	if r.Rate > 0 {
		unit := r.Unit
		if unit == "" {
			unit = "samples"
		}
		fmt.Fprintf(&b, `,"%s_per_s":%s`, unit, num(r.Rate))
	}
	for _, m := range r.Items {
		fmt.Fprintf(&b, `,%q:%s`, m.Name, num(m.Value))
	}
	b.WriteString("}\n")
	_, err := l.f.Write(b.Bytes())
	return err
}

// num formats a float for JSON; NaN and Inf, which JSON lacks, become null.
func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "null"
	}
	return strconv.FormatFloat(v, 'g', 7, 64)
}

func (l *metricsLog) Close() error { return l.f.Close() }
