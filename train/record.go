package train

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"

	"gopkg.in/yaml.v3"

	"github.com/aigc-go/aigc/checkpoints"
	"github.com/aigc-go/aigc/configs"
	"github.com/aigc-go/aigc/datasets"
)

// A run directory is the record of its run, as nanoGPT's checkpoint carries its config:
// config.yaml and every checkpoint's metadata say what the run trained on (the data's
// origin and fingerprint), with which seed, and by which build of aigc. Resuming, eval
// and sample read the data from there unless told otherwise, and a resume on other data
// is refused.

// Metadata keys of a checkpoint that record its run's data.
const (
	keyData       = "data"        // what --data takes to read it again; "" for the embedded data
	keyDataName   = "data_name"   // how messages name it
	keyDataBytes  = "data_bytes"  // its size as read
	keyDataSHA256 = "data_sha256" // the SHA-256 fingerprint of its files
	keySeed       = "seed"
)

// recordData writes a data origin into checkpoint metadata.
func recordData(extra map[string]string, o datasets.Origin) {
	if o.SHA256 == "" {
		return
	}
	extra[keyData] = o.Arg
	extra[keyDataName] = o.Name
	extra[keyDataBytes] = strconv.FormatInt(o.Bytes, 10)
	extra[keyDataSHA256] = o.SHA256
}

// RecordedData returns the data a checkpoint's run trained on, if it records it.
func RecordedData(meta checkpoints.Meta) (datasets.Origin, bool) {
	sum, ok := meta.Extra[keyDataSHA256]
	if !ok {
		return datasets.Origin{}, false
	}
	n, _ := strconv.ParseInt(meta.Extra[keyDataBytes], 10, 64)
	return datasets.Origin{Arg: meta.Extra[keyData], Name: meta.Extra[keyDataName], Bytes: n, SHA256: sum}, true
}

// RunData returns the data the run in dir trained on, as its latest checkpoint records it
// (or the one --fresh set aside, which a plain train brings back), and that checkpoint's
// path. It reports false for a run without a checkpoint or without the record.
func RunData(dir string) (datasets.Origin, string, bool, error) {
	for _, path := range []string{filepath.Join(dir, LatestFile), filepath.Join(dir, PreviousDir, LatestFile)} {
		meta, err := checkpoints.ReadMeta(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return datasets.Origin{}, path, false, err
		}
		o, ok := RecordedData(meta)
		return o, path, ok, nil
	}
	return datasets.Origin{}, "", false, nil
}

// checkSameData refuses to resume a checkpoint on data other than its run's.
func checkSameData(path string, meta checkpoints.Meta, now datasets.Origin) error {
	was, ok := RecordedData(meta)
	if !ok || now.SHA256 == "" || was.Same(now) {
		return nil
	}
	again := "--data " + was.Arg
	if was.Arg == "" {
		again = "no --data"
	}
	return fmt.Errorf("%s was trained on %s (%s), not on %s (%s): resume with %s, or start over with --fresh",
		path, was.Name, was.Short(), now.Name, now.Short(), again)
}

// recordHead is the head of config.yaml.
type recordHead struct {
	Model      string `yaml:"model"`
	Data       string `yaml:"data"`
	DataName   string `yaml:"data_name"`
	DataBytes  int64  `yaml:"data_bytes"`
	DataSHA256 string `yaml:"data_sha256"`
	Seed       uint64 `yaml:"seed"`
	Version    string `yaml:"aigc_version"`
}

// configYAML is config.yaml: the run's record, then its effective configuration.
func configYAML(model string, data datasets.Origin, seed uint64, version string, cfg configs.Config) []byte {
	rec := map[string]recordHead{configs.RecordKey: {Model: model, Data: data.Arg, DataName: data.Name,
		DataBytes: data.Bytes, DataSHA256: data.SHA256, Seed: seed, Version: version}}
	head, err := yaml.Marshal(rec)
	if err != nil {
		panic(err) // a struct of strings and numbers always marshals
	}
	out := []byte("# aigc train's record of this run: the data it trained on (data is what --data takes to\n" +
		"# read it again, empty for the data built into aigc), its seed and aigc's version. Given to\n" +
		"# --config, the file's model keys apply and this section is skipped.\n")
	out = append(out, head...)
	out = append(out, "# The model's configuration.\n"...)
	return append(out, configs.YAML(cfg)...)
}
