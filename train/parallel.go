package train

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"strconv"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/dist"
	"github.com/aigc-go/aigc/graph"
	"github.com/aigc-go/aigc/models"
)

// Data parallelism (dist.World of several ranks): every rank runs this same loop on its
// shard of every global batch, in step with the others. The model's accumulator sums the
// gradients of the ranks before each optimiser step, so the replicas stay equal. Rank 0
// (the lead) alone writes the run directory (checkpoints, config, metrics, TensorBoard,
// sample figures) and shows progress; a resume reads the lead's checkpoint on every rank,
// sent over the communicator, so the run directory need not be shared between machines.
// Decisions that end the loop (an interrupt, divergence) are taken together: a signal to
// any rank stops every rank after the same step.

// Metadata keys of a data-parallel run's checkpoints.
const (
	keyWorldSize   = "world_size"   // processes the run trained on
	keyGlobalBatch = "global_batch" // rows (or windows, or pairs) of each optimiser step
)

// Agreed marks an error every rank returns together (an interrupt, divergence): the lead
// reports it, the other ranks need not repeat it.
type Agreed struct{ error }

func (e Agreed) Unwrap() error { return e.error }

// IsAgreed reports whether err was reached by every rank together.
func IsAgreed(err error) bool {
	var a Agreed
	return errors.As(err, &a) || errors.Is(err, ErrInterrupted)
}

// lead reports whether this process writes the run's files: rank 0 (or the only one).
func (t *trainer) lead() bool { return t.world.Rank() == 0 }

// parallel reports whether the run is data-parallel.
func (t *trainer) parallel() bool { return t.world.Size() > 1 }

// globalBatch is what one optimiser step trains on, over every rank and micro-batch.
func (t *trainer) globalBatch() int {
	return t.world.Size() * t.tc.BatchSize * t.tc.GradAccumSteps
}

// joinRanks checks that every rank trains the same configuration on the same data, and
// gives every rank the lead's initial weights.
func (t *trainer) joinRanks() error {
	if !t.parallel() {
		return nil
	}
	if err := dist.Same(t.world, "configuration (--config, --set, --seed)", hash(string(configs.JSON(t.o.Config)), strconv.FormatUint(t.o.Seed, 10))); err != nil {
		return err
	}
	if err := dist.Same(t.world, "training data (another file, or other contents)", hash(t.o.Data.SHA256)); err != nil {
		return err
	}
	return t.shareWeights()
}

// shareWeights gives every rank the lead's parameters and buffers (batch statistics), in
// one message: at the start, and before each evaluation so that a rank whose arithmetic
// drifted by rounding (another thread count) evaluates and goes on with the lead's.
func (t *trainer) shareWeights() error {
	if !t.parallel() {
		return nil
	}
	var bufs [][]float32
	for _, p := range t.o.Model.Params().State() {
		bufs = append(bufs, p.Data())
	}
	if t.ema != nil {
		for _, a := range t.ema.State() {
			bufs = append(bufs, a.Data)
		}
	}
	if err := toHost(bufs); err != nil {
		return err
	}
	if err := dist.BroadcastFloats(t.world, bufs, 0); err != nil {
		return fmt.Errorf("sharing the weights: %w", err)
	}
	return toDevice(bufs)
}

// shareCheckpoint returns, on every rank, the checkpoint the lead resumes from (nil for a
// fresh start): the lead reads it, the others get its bytes.
func (t *trainer) shareCheckpoint(path string, exists bool) (*checkpoints.File, error) {
	if !t.parallel() {
		if !exists {
			return nil, nil
		}
		f, err := checkpoints.Read(path)
		if err != nil {
			return nil, fmt.Errorf("%w%s", err, cannotResume)
		}
		return f, nil
	}
	var data []byte
	var readErr error
	if t.lead() && exists {
		if data, readErr = os.ReadFile(path); readErr == nil && len(data) == 0 {
			readErr = fmt.Errorf("checkpoint %s is empty", path)
		}
	}
	bad, err := dist.Any(t.world, readErr != nil)
	if err != nil {
		return nil, err
	}
	if bad {
		if readErr != nil {
			return nil, Agreed{fmt.Errorf("%w%s", readErr, cannotResume)}
		}
		return nil, Agreed{fmt.Errorf("rank 0 cannot read %s", path)}
	}
	if data, err = dist.BroadcastBytes(t.world, data, 0); err != nil {
		return nil, fmt.Errorf("sharing the checkpoint: %w", err)
	}
	if len(data) == 0 {
		return nil, nil
	}
	f, err := checkpoints.Decode(data, path)
	if err != nil {
		return nil, Agreed{fmt.Errorf("%w%s", err, cannotResume)}
	}
	return f, nil
}

// checkWorld refuses to resume a checkpoint on another number of processes, unless the
// global batch is the one it trained with (2 processes of 64 continue as 1 of 64 with
// grad_accum_steps=2, or of 128): each step would otherwise train on other rows than the
// run's epochs were planned over. On as many processes as before, a resume goes on as it
// always could (with another batch_size if the user asks).
func (t *trainer) checkWorld(path string, meta checkpoints.Meta) error {
	n, err := strconv.Atoi(meta.Extra[keyWorldSize])
	if err != nil {
		n = 1 // a checkpoint from before the record: one process
	}
	was, err := strconv.Atoi(meta.Extra[keyGlobalBatch])
	if n == t.world.Size() || err == nil && was == t.globalBatch() {
		return nil
	}
	return fmt.Errorf("%s was trained with a global batch of %d (on %s), this run's is %d (%s of batch_size=%d, grad_accum_steps=%d): resume with the same global batch (processes × batch_size × grad_accum_steps), or --fresh",
		path, was, processes(n), t.globalBatch(), processes(t.world.Size()), t.tc.BatchSize, t.tc.GradAccumSteps)
}

// agree is every rank's view of the step just taken: whether any rank was asked to stop,
// and the rows trained on over all ranks. Alone, it is this process's.
func (t *trainer) agree(stop bool, rows int) (bool, int, error) {
	if !t.parallel() {
		return stop, rows, nil
	}
	v := []float64{0, float64(rows)}
	if stop {
		v[0] = 1
	}
	if err := t.world.AllReduce(v); err != nil {
		return false, rows, fmt.Errorf("step %d: %w", t.step, err)
	}
	return v[0] > 0, int(v[1]), nil
}

// shareMetrics gives every rank the lead's evaluation, so that every rank takes the same
// decisions on it (best checkpoint, divergence) even where its own arithmetic differed.
func (t *trainer) shareMetrics(ev models.Metrics) error {
	if !t.parallel() {
		return nil
	}
	buf := make([]byte, 8*len(ev))
	for i, m := range ev {
		binary.LittleEndian.PutUint64(buf[8*i:], math.Float64bits(m.Value))
	}
	if err := t.world.Broadcast(buf, 0); err != nil {
		return err
	}
	for i := range ev {
		ev[i].Value = math.Float64frombits(binary.LittleEndian.Uint64(buf[8*i:]))
	}
	return nil
}

// processes is "1 process" or "n processes".
func processes(n int) string {
	if n == 1 {
		return "1 process"
	}
	return strconv.Itoa(n) + " processes"
}

// hash fingerprints strings for dist.Same.
func hash(ss ...string) uint64 {
	h := fnv.New64a()
	for _, s := range ss {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return h.Sum64()
}

func toHost(bufs [][]float32) error   { return graph.ToHost(bufs...) }
func toDevice(bufs [][]float32) error { return graph.ToDevice(bufs...) }
