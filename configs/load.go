package configs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/aigc-go/aigc/internal/words"
)

// Config is a family's configuration type (a pointer to a struct with yaml tags that
// embeds Train inline).
type Config interface {
	Validate() error
	TrainConfig() *Train
}

// Resolver is a config with defaults that depend on other keys (a GAN's epochs on its
// architecture). Load calls Resolve after every override and before Validate, so the
// effective config that is printed and stored holds the resolved values.
type Resolver interface {
	Resolve()
}

// Load builds cfg from the family's embedded defaults, then the YAML file (when not
// empty), then the key=value overrides in order, resolves and validates the result. Every
// error is one line naming its source: the file, or the --set argument.
func Load(cfg Config, family, file string, sets []string) error {
	def, err := Default(family)
	if err != nil {
		return err
	}
	if err := apply(cfg, def, "default config "+family+".yaml"); err != nil {
		return err
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("config file %s: no such file", file)
			}
			return fmt.Errorf("config file %s: %w", file, err)
		}
		if err := apply(cfg, b, "config file "+file); err != nil {
			return err
		}
	}
	for _, s := range sets {
		if err := Set(cfg, s); err != nil {
			return err
		}
	}
	return resolveAndValidate(cfg)
}

func resolveAndValidate(cfg Config) error {
	if r, ok := cfg.(Resolver); ok {
		r.Resolve()
	}
	return cfg.Validate()
}

// Set applies one "key=value" override.
func Set(cfg Config, kv string) error {
	key, value, ok := strings.Cut(kv, "=")
	key = strings.TrimSpace(key)
	where := "--set " + printable(kv)
	if !ok || key == "" {
		return fmt.Errorf("%s: want key=value", where)
	}
	var node yaml.Node
	if err := yaml.Unmarshal([]byte(value), &node); err != nil || len(node.Content) > 1 {
		return fmt.Errorf("%s: cannot parse the value", where)
	}
	if len(node.Content) == 0 { // "key=" sets an empty string
		node = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ""}
	} else {
		node = *node.Content[0]
	}
	return setKey(cfg, key, &node, where)
}

// printable is s as typed, or quoted where it holds characters that would break the
// one-line message (newlines, control characters).
func printable(s string) string {
	for _, r := range s {
		if !strconv.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
}

// FromJSON fills cfg from the family's defaults, then a JSON object (a checkpoint's stored
// config), keys checked as for a file, and validates it. A key the checkpoint lacks (one
// added after it was written) keeps its default, which is how aigc worked before the key.
func FromJSON(cfg Config, family string, data []byte, source string) error {
	def, err := Default(family)
	if err != nil {
		return err
	}
	if err := apply(cfg, def, "default config "+family+".yaml"); err != nil {
		return err
	}
	if err := apply(cfg, data, source); err != nil {
		return err
	}
	return resolveAndValidate(cfg)
}

// apply sets every key of a YAML mapping document (JSON is YAML too).
func apply(cfg Config, doc []byte, source string) error {
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return fmt.Errorf("%s: %s", source, oneLine(err))
	}
	if len(root.Content) == 0 { // empty file: nothing to change
		return nil
	}
	m := root.Content[0]
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("%s: want a mapping of key: value lines", source)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		key := m.Content[i].Value
		if seen[key] {
			return fmt.Errorf("%s: line %d: key %q given twice", source, m.Content[i].Line, key)
		}
		seen[key] = true
		if key == RecordKey && m.Content[i+1].Kind == yaml.MappingNode {
			continue // a run directory's config.yaml: the run's record is not configuration
		}
		where := fmt.Sprintf("%s: line %d", source, m.Content[i].Line)
		if err := setKey(cfg, key, m.Content[i+1], where); err != nil {
			return err
		}
	}
	return nil
}

// RecordKey heads the section of a run directory's config.yaml that records the run (its
// data, seed and build) rather than configures it; Load skips it, so the file can be given
// back to --config.
const RecordKey = "run"

// setKey decodes one YAML value into the field tagged key.
func setKey(cfg Config, key string, value *yaml.Node, where string) error {
	fields := fieldsOf(cfg)
	f, ok := fields[key]
	if !ok {
		return fmt.Errorf("%s: unknown config key %q%s", where, key, suggest(key, fields))
	}
	if value.Kind != yaml.ScalarNode {
		return fmt.Errorf("%s: %s wants %s, not a list or mapping", where, key, kindName(f.Type()))
	}
	if isInt(f.Type()) { // YAML would cut 1.5 to 1: an integer key takes integers only
		n, err := strconv.ParseInt(strings.ReplaceAll(value.Value, "_", ""), 10, 64)
		if err != nil {
			return fmt.Errorf("%s: %s wants an integer, got %q", where, key, value.Value)
		}
		if limit := intLimit(fieldTags(cfg)[key]); n > limit || n < -limit {
			return fmt.Errorf("%s: %s=%d is beyond this key's limit of %d", where, key, n, limit)
		}
		f.SetInt(n)
		return nil
	}
	fresh := reflect.New(f.Type())
	if err := value.Decode(fresh.Interface()); err != nil {
		return fmt.Errorf("%s: %s wants %s, got %q", where, key, kindName(f.Type()), value.Value)
	}
	f.Set(fresh.Elem())
	return nil
}

func isInt(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32:
		return true
	}
	return false
}

// DefaultIntLimit bounds every integer key without a limit tag of its own: sizes (widths,
// lengths, batch sizes, layers) beyond it would not fit in any machine's memory. Keys that
// count steps or samples say their own bound with a tag, `limit:"1000000000"`.
const DefaultIntLimit = 1 << 16

func intLimit(tag reflect.StructTag) int64 {
	if l, err := strconv.ParseInt(tag.Get("limit"), 10, 64); err == nil {
		return l
	}
	return DefaultIntLimit
}

// fieldTags maps each yaml key of cfg's struct to its field's tags.
func fieldTags(cfg Config) map[string]reflect.StructTag {
	out := map[string]reflect.StructTag{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			sf := t.Field(i)
			name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			switch {
			case opts == "inline":
				walk(sf.Type)
			case name != "" && name != "-" && sf.IsExported():
				out[name] = sf.Tag
			}
		}
	}
	walk(reflect.TypeOf(cfg).Elem())
	return out
}

// fieldsOf maps each yaml key of cfg's struct (inline structs flattened) to its field.
func fieldsOf(cfg Config) map[string]reflect.Value {
	out := map[string]reflect.Value{}
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			name, opts, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			switch {
			case opts == "inline":
				walk(v.Field(i))
			case name != "" && name != "-" && sf.IsExported():
				out[name] = v.Field(i)
			}
		}
	}
	walk(reflect.ValueOf(cfg).Elem())
	return out
}

// Keys lists cfg's config keys, sorted.
func Keys(cfg Config) []string {
	var keys []string
	for k := range fieldsOf(cfg) {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	}
	return t.String()
}

// suggest names the closest known key, or lists them all.
func suggest(key string, fields map[string]reflect.Value) string {
	var all []string
	for k := range fields {
		all = append(all, k)
	}
	if best := words.Closest(key, all); best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return " (known keys: " + words.List(all) + ")"
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(strings.TrimPrefix(err.Error(), "yaml: ")), " ")
}

// YAML renders cfg as YAML, keys in field order: the effective config printed at the start
// of a run and stored in the run directory.
func YAML(cfg Config) []byte {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		panic(fmt.Sprintf("configs: %v", err)) // plain structs of scalars always marshal
	}
	return b
}

// JSON renders cfg as a JSON object keyed like the YAML, for checkpoint metadata.
func JSON(cfg Config) []byte {
	var buf bytes.Buffer
	buf.WriteByte('{')
	keys := Keys(cfg)
	fields := fieldsOf(cfg)
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k)
		vb, err := json.Marshal(fields[k].Interface())
		if err != nil {
			panic(fmt.Sprintf("configs: %v", err))
		}
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(vb)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// Ints returns cfg's integer keys and their values.
func Ints(cfg Config) map[string]int64 {
	out := map[string]int64{}
	for k, f := range fieldsOf(cfg) {
		if isInt(f.Type()) {
			out[k] = f.Int()
		}
	}
	return out
}
