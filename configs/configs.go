// Package configs holds each model family's default configuration, embedded in the binary
// as YAML, and the one way configurations are built: defaults, then an optional YAML file,
// then --set key=value overrides, every key checked against the family's config type and
// the result validated before any work starts.
package configs

import (
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed *.yaml
var defaults embed.FS

// Default returns the embedded default YAML of a family.
func Default(family string) ([]byte, error) {
	b, err := defaults.ReadFile(family + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("no default config for model %q", family)
	}
	return b, nil
}

// Families lists the families that have an embedded default config.
func Families() []string {
	names, _ := fs.Glob(defaults, "*.yaml")
	for i, n := range names {
		names[i] = strings.TrimSuffix(n, ".yaml")
	}
	sort.Strings(names)
	return names
}
