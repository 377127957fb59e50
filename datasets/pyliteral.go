package datasets

import (
	"fmt"
	"strconv"
)

// pyParser parses the small subset of Python literals numpy writes in NPY headers:
// dictionaries with string keys, strings, True/False, non-negative integers (with
// Python 2's L suffix), and tuples or lists of these.
type pyParser struct {
	s []byte
	i int
}

// maxPyDepth bounds nesting; real headers nest two levels (a dict of tuples).
const maxPyDepth = 8

func (p *pyParser) skipSpace() int {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
	return p.i
}

// value parses one literal: string, bool, int, []any for tuples and lists, or
// map[string]any for dictionaries.
func (p *pyParser) value(depth int) (any, error) {
	if depth > maxPyDepth {
		return nil, fmt.Errorf("literal nested more than %d deep", maxPyDepth)
	}
	if p.skipSpace() >= len(p.s) {
		return nil, fmt.Errorf("header ends where a value should be")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.dict(depth)
	case c == '(':
		return p.sequence(')', depth)
	case c == '[':
		return p.sequence(']', depth)
	case c == '\'' || c == '"':
		return p.str()
	case c >= '0' && c <= '9':
		return p.integer()
	default:
		for _, word := range []struct {
			text string
			v    bool
		}{{"True", true}, {"False", false}} {
			if string(p.s[p.i:min(len(p.s), p.i+len(word.text))]) == word.text {
				p.i += len(word.text)
				return word.v, nil
			}
		}
		return nil, fmt.Errorf("unexpected %q at offset %d", c, p.i)
	}
}

// sequence parses the items of a tuple or list up to the closing bracket, allowing
// Python's trailing comma.
func (p *pyParser) sequence(closing byte, depth int) ([]any, error) {
	p.i++ // opening bracket
	items := []any{}
	for {
		if p.skipSpace() < len(p.s) && p.s[p.i] == closing {
			p.i++
			return items, nil
		}
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		items = append(items, v)
		if err := p.separator(closing); err != nil {
			return nil, err
		}
	}
}

// dict parses a dictionary with string keys.
func (p *pyParser) dict(depth int) (map[string]any, error) {
	p.i++ // '{'
	d := map[string]any{}
	for {
		if p.skipSpace() < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return d, nil
		}
		if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
			return nil, fmt.Errorf("dictionary key at offset %d is not a string", p.i)
		}
		key, err := p.str()
		if err != nil {
			return nil, err
		}
		if _, dup := d[key]; dup {
			return nil, fmt.Errorf("key %q appears twice", key)
		}
		if p.skipSpace() >= len(p.s) || p.s[p.i] != ':' {
			return nil, fmt.Errorf("missing ':' after key %q", key)
		}
		p.i++
		if d[key], err = p.value(depth + 1); err != nil {
			return nil, err
		}
		if err := p.separator('}'); err != nil {
			return nil, err
		}
	}
}

// separator consumes the comma after an item, or checks that the closing bracket follows.
func (p *pyParser) separator(closing byte) error {
	if p.skipSpace() >= len(p.s) {
		return fmt.Errorf("missing %q", closing)
	}
	switch p.s[p.i] {
	case ',':
		p.i++
		return nil
	case closing:
		return nil
	}
	return fmt.Errorf("unexpected %q at offset %d", p.s[p.i], p.i)
}

// str parses a quoted string without escapes, which dtype strings never contain.
func (p *pyParser) str() (string, error) {
	quote := p.s[p.i]
	start := p.i + 1
	for j := start; j < len(p.s); j++ {
		switch p.s[j] {
		case quote:
			p.i = j + 1
			return string(p.s[start:j]), nil
		case '\\':
			return "", fmt.Errorf("escaped string at offset %d not supported", p.i)
		}
	}
	return "", fmt.Errorf("unterminated string at offset %d", p.i)
}

// integer parses a non-negative decimal integer, with an optional L suffix from Python 2.
func (p *pyParser) integer() (int, error) {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	n, err := strconv.Atoi(string(p.s[start:p.i]))
	if err != nil {
		return 0, fmt.Errorf("integer %s at offset %d is too large", p.s[start:p.i], start)
	}
	if p.i < len(p.s) && p.s[p.i] == 'L' {
		p.i++
	}
	return n, nil
}
