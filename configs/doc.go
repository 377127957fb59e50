package configs

import (
	"strings"

	"gopkg.in/yaml.v3"
)

// KeyDoc is one key of a family's default config: its default as written and the comment
// beside it, for completion and help.
type KeyDoc struct {
	Key, Default, Comment string
}

// Documented lists the keys of a family's default config in file order, each with its
// default and its comment (the text after # on its line, or on the lines above it).
func Documented(family string) ([]KeyDoc, error) {
	def, err := Default(family)
	if err != nil {
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(def, &root); err != nil || len(root.Content) == 0 {
		return nil, err
	}
	m := root.Content[0]
	var out []KeyDoc
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		comment := v.LineComment
		if comment == "" {
			comment = k.LineComment
		}
		comment = strings.TrimSpace(strings.TrimPrefix(comment, "#"))
		out = append(out, KeyDoc{Key: k.Value, Default: v.Value, Comment: comment})
	}
	return out, nil
}
