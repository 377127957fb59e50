package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
	"github.com/aigc-go/aigc/graph"
	"github.com/aigc-go/aigc/models"
	"github.com/aigc-go/aigc/train"
)

// configFlags are the flags that build a model's configuration.
type configFlags struct {
	File string
	Sets []string
}

func (c *configFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.File, "config", "", "YAML file of config keys over the model's defaults (see aigc models)")
	cmd.Flags().StringArrayVar(&c.Sets, "set", nil, "override one config key, e.g. --set epochs=1 (repeatable)")
}

// load returns the family and its effective config: defaults, then the file, then --set.
func (c *configFlags) load(name string) (*models.Family, configs.Config, error) {
	fam, err := models.Lookup(name)
	if err != nil {
		return nil, nil, usageError{err}
	}
	cfg := fam.NewConfig()
	if err := configs.Load(cfg, name, c.File, c.Sets); err != nil {
		return nil, nil, err
	}
	graph.SetMatmulPrecision(cfg.TrainConfig().MatmulPrecision)
	return fam, cfg, nil
}

// imageData is a family's image set, streamed in its batch size and pixel range.
type imageData struct {
	Set         *datasets.ImageSet
	Train, Test *datasets.ImageStream
	Env         models.Env
}

// loadImages reads --data (a folder, a downloaded set's name, or "" for the embedded
// MNIST) and makes its training and evaluation streams.
// In a data-parallel run, shard makes each training batch this process's part of a global
// batch.
func loadImages(fam *models.Family, cfg configs.Config, dir string, seed uint64, shard datasets.Shard) (*imageData, error) {
	if fam.Data != models.Images {
		return nil, fmt.Errorf("model %s reads %s, not images", fam.Name, fam.Data)
	}
	set, err := datasets.LoadImages(dir)
	if err != nil {
		return nil, err
	}
	if lc, ok := cfg.(models.LabelConfig); ok {
		for _, im := range []*datasets.Images{set.Train, set.Test} {
			if err := im.CheckLabels(lc.LabelClasses()); err != nil {
				return nil, err
			}
		}
	}
	bs := cfg.TrainConfig().BatchSize
	lo, hi := fam.PixelRange[0], fam.PixelRange[1]
	d := &imageData{Set: set, Env: models.Env{ImageH: set.Train.H, ImageW: set.Train.W}}
	if d.Train, err = datasets.NewImageStream(set.Train, datasets.ImageStreamOptions{
		BatchSize: bs, Shuffle: true, Seed: seed, Lo: lo, Hi: hi, Shard: shard}); err != nil {
		return nil, err
	}
	if d.Test, err = datasets.NewImageStream(set.Test, datasets.ImageStreamOptions{
		BatchSize: bs, Lo: lo, Hi: hi}); err != nil {
		return nil, err
	}
	return d, nil
}

// trainingData is any family's data, ready for the trainer or the benchmark.
type trainingData struct {
	Env         models.Env
	Train, Eval datasets.Stream
	What        string // for the line that starts training
	PerRow      int    // tokens per batch row (1 for images), for tokens/s
	Origin      datasets.Origin
}

// loadData reads the data the family trains on: images, a text corpus or sequence pairs,
// from --data or the embedded defaults.
func loadData(fam *models.Family, cfg configs.Config, path string, seed uint64, shard datasets.Shard) (*trainingData, error) {
	switch fam.Data {
	case models.Text:
		d, err := loadText(fam, cfg, path, seed, nil, false, shard)
		if err != nil {
			return nil, err
		}
		return &trainingData{d.Env, d.Train, d.Val, d.describe(), d.Train.Window(), d.Corpus.Origin}, nil
	case models.Pairs:
		d, err := loadPairs(fam, cfg, path, seed, nil, shard)
		if err != nil {
			return nil, err
		}
		return &trainingData{d.Env, d.Train, d.Test, d.describe(), d.Env.SrcLen + d.Env.TgtLen, d.Set.Origin}, nil
	}
	d, err := loadImages(fam, cfg, path, seed, shard)
	if err != nil {
		return nil, err
	}
	return &trainingData{d.Env, d.Train, d.Test, fmt.Sprintf("%s (%d images)", d.Set.Name, d.Set.Train.N), 1, d.Set.Origin}, nil
}

// recordedData is the --data of a command that reads a checkpoint: the flag when given,
// else the data the checkpoint's run trained on, as it records it ("" is the data built
// into aigc).
func recordedData(flag string, l *models.Loaded) string {
	if flag != "" {
		return flag
	}
	o, _ := train.RecordedData(l.Meta)
	return o.Arg
}

// recordedDataError explains a failure to read the data a checkpoint records.
func recordedDataError(err error, flag string, l *models.Loaded) error {
	if o, ok := train.RecordedData(l.Meta); ok && flag == "" && o.Arg != "" {
		return fmt.Errorf("%w (the data %s records its run trained on; --data reads other data)", err, l.Path)
	}
	return err
}

// checkpointFlags choose the checkpoint that sample and eval read.
type checkpointFlags struct {
	Run        string
	Checkpoint string
}

func (c *checkpointFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.Run, "run", "", "run directory to read (default runs/MODEL)")
	cmd.Flags().StringVar(&c.Checkpoint, "checkpoint", "", "checkpoint file (default: the run's best, else latest)")
}

// open rebuilds the model of the chosen checkpoint, which must be of the given family.
// The classifier, whose weights ship in the binary, is those weights when neither --run
// nor --checkpoint is given and runs/classifier has no checkpoint of its own.
func (c *checkpointFlags) open(model string) (*models.Loaded, error) {
	path, err := checkpointPath(model, runDir(c.Run, model), c.Checkpoint)
	var l *models.Loaded
	switch {
	case err != nil && c.Run == "" && c.Checkpoint == "" && errors.Is(err, errNoCheckpoint):
		if l, err = models.OpenEmbedded(model); err != nil {
			return nil, fmt.Errorf("no checkpoint in %s: train first (aigc train %s) or give --run DIR or --checkpoint FILE", runDir("", model), model)
		}
	case err != nil:
		return nil, err
	default:
		l, err = models.Open(path, model)
	}
	if err != nil {
		return nil, err
	}
	graph.SetMatmulPrecision(l.Config.TrainConfig().MatmulPrecision)
	return l, nil
}

// printJSON writes v as indented JSON: the output of --json.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// runDir is --run, defaulting to runs/MODEL.
func runDir(run, model string) string {
	if run != "" {
		return run
	}
	return filepath.Join("runs", model)
}

// checkpointPath is --checkpoint, or the run directory's best checkpoint (lowest
// evaluation loss), or its latest.
func checkpointPath(model, run, checkpoint string) (string, error) {
	if checkpoint != "" {
		return checkpoint, nil
	}
	for _, name := range []string{train.BestFile, train.LatestFile} {
		p := filepath.Join(run, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("%w in %s: train first (aigc train %s --run %s) or give --checkpoint FILE", errNoCheckpoint, run, model, run)
}

// errNoCheckpoint is a run directory without a checkpoint.
var errNoCheckpoint = errors.New("no checkpoint")
