package checkpoints

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// metadataKey is the reserved header key holding the string-to-string
// metadata; it can never be a tensor name.
const metadataKey = "__metadata__"

// maxRank bounds the number of dimensions a tensor may declare. Without it a
// 100 MB header of "1,1,1,..." would make the parser hold hundreds of MB of
// dimensions; no model has anywhere near this many.
const maxRank = 64

// rawEntry is one tensor's header entry as written, before its numbers are
// checked against each other and against the data buffer.
type rawEntry struct {
	name    string
	dtype   string
	shape   []uint64
	offsets []uint64
}

// parseHeader reads the JSON header. It walks the token stream by hand rather
// than unmarshalling into a map because encoding/json silently keeps the last
// of duplicate keys, which would let two readers of the same file disagree on
// its contents; walking tokens also means no value is ever skipped unseen.
func parseHeader(header []byte) (map[string]string, []rawEntry, error) {
	// encoding/json replaces invalid UTF-8 with U+FFFD instead of failing,
	// and the reference implementation rejects it, so check up front.
	if !utf8.Valid(header) {
		return nil, nil, errors.New("header is not valid UTF-8")
	}
	p := headerParser{dec: json.NewDecoder(bytes.NewReader(header))}
	p.dec.UseNumber()

	if err := p.expectDelim('{', "header is not a JSON object"); err != nil {
		return nil, nil, err
	}
	meta := map[string]string{}
	var entries []rawEntry
	seen := map[string]bool{}
	for p.dec.More() {
		key, err := p.key()
		if err != nil {
			return nil, nil, err
		}
		if seen[key] {
			return nil, nil, fmt.Errorf("header has duplicate key %s", quote(key))
		}
		seen[key] = true
		if key == metadataKey {
			if meta, err = p.metadata(); err != nil {
				return nil, nil, err
			}
			continue
		}
		e, err := p.tensor(key)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if err := p.expectDelim('}', "header is not a JSON object"); err != nil {
		return nil, nil, err
	}
	// Only whitespace (the writer's alignment padding) may follow.
	if _, err := p.dec.Token(); err != io.EOF {
		return nil, nil, errors.New("header has data after the JSON object")
	}
	return meta, entries, nil
}

type headerParser struct {
	dec *json.Decoder
}

func (p *headerParser) token() (json.Token, error) {
	tok, err := p.dec.Token()
	if err == io.EOF {
		// The decoder reports a header cut short inside an object as a
		// plain EOF; say what it means.
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return nil, fmt.Errorf("header is not valid JSON: %v", err)
	}
	return tok, nil
}

func (p *headerParser) expectDelim(d json.Delim, msg string) error {
	tok, err := p.token()
	if err != nil {
		return err
	}
	if tok != d {
		return errors.New(msg)
	}
	return nil
}

// key reads an object key; the decoder guarantees keys are strings.
func (p *headerParser) key() (string, error) {
	tok, err := p.token()
	if err != nil {
		return "", err
	}
	k, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("header is not valid JSON: unexpected %s", describe(tok))
	}
	return k, nil
}

func (p *headerParser) metadata() (map[string]string, error) {
	if err := p.expectDelim('{', metadataKey+" is not a JSON object"); err != nil {
		return nil, err
	}
	m := map[string]string{}
	for p.dec.More() {
		k, err := p.key()
		if err != nil {
			return nil, err
		}
		if _, dup := m[k]; dup {
			return nil, fmt.Errorf("%s has duplicate key %s", metadataKey, quote(k))
		}
		tok, err := p.token()
		if err != nil {
			return nil, err
		}
		v, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("%s value of %s is %s, not a string", metadataKey, quote(k), describe(tok))
		}
		m[k] = v
	}
	if err := p.expectDelim('}', metadataKey+" is not a JSON object"); err != nil {
		return nil, err
	}
	return m, nil
}

func (p *headerParser) tensor(name string) (rawEntry, error) {
	e := rawEntry{name: name}
	if err := p.expectDelim('{', fmt.Sprintf("tensor %s: entry is not a JSON object", quote(name))); err != nil {
		return e, err
	}
	seen := map[string]bool{}
	for p.dec.More() {
		field, err := p.key()
		if err != nil {
			return e, err
		}
		if seen[field] {
			return e, fmt.Errorf("tensor %s: duplicate field %s", quote(name), quote(field))
		}
		seen[field] = true
		switch field {
		case "dtype":
			tok, err := p.token()
			if err != nil {
				return e, err
			}
			s, ok := tok.(string)
			if !ok {
				return e, fmt.Errorf("tensor %s: dtype is %s, not a string", quote(name), describe(tok))
			}
			e.dtype = s
		case "shape":
			if e.shape, err = p.uints(name, field, maxRank, "dimensions"); err != nil {
				return e, err
			}
		case "data_offsets":
			if e.offsets, err = p.uints(name, field, 2, "values"); err != nil {
				return e, err
			}
			if len(e.offsets) != 2 {
				return e, fmt.Errorf("tensor %s: data_offsets must hold 2 values, not %d", quote(name), len(e.offsets))
			}
		default:
			// The reference implementation ignores unknown fields; we
			// reject them, since a field we do not understand may change
			// what the bytes mean.
			return e, fmt.Errorf("tensor %s: unknown field %s", quote(name), quote(field))
		}
	}
	if err := p.expectDelim('}', fmt.Sprintf("tensor %s: entry is not a JSON object", quote(name))); err != nil {
		return e, err
	}
	for _, field := range []string{"dtype", "shape", "data_offsets"} {
		if !seen[field] {
			return e, fmt.Errorf("tensor %s: missing field %q", quote(name), field)
		}
	}
	if _, ok := dtypeBits[e.dtype]; !ok {
		return e, fmt.Errorf("tensor %s: unknown dtype %s", quote(name), quote(e.dtype))
	}
	return e, nil
}

// uints reads a JSON array of at most max non-negative integers; noun names
// its elements in errors.
func (p *headerParser) uints(name, field string, max int, noun string) ([]uint64, error) {
	tok, err := p.token()
	if err != nil {
		return nil, err
	}
	if tok != json.Delim('[') {
		return nil, fmt.Errorf("tensor %s: %s is %s, not an array", quote(name), field, describe(tok))
	}
	out := []uint64{}
	for p.dec.More() {
		tok, err := p.token()
		if err != nil {
			return nil, err
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, fmt.Errorf("tensor %s: %s holds %s, not an integer", quote(name), field, describe(tok))
		}
		if strings.HasPrefix(string(num), "-") {
			return nil, fmt.Errorf("tensor %s: %s holds negative value %s", quote(name), field, clip(string(num)))
		}
		v, err := strconv.ParseUint(string(num), 10, 64)
		if errors.Is(err, strconv.ErrRange) {
			return nil, fmt.Errorf("tensor %s: %s value %s is too large", quote(name), field, clip(string(num)))
		}
		if err != nil {
			return nil, fmt.Errorf("tensor %s: %s holds %s, not an integer", quote(name), field, clip(string(num)))
		}
		if len(out) == max {
			return nil, fmt.Errorf("tensor %s: %s has more than %d %s", quote(name), field, max, noun)
		}
		out = append(out, v)
	}
	if err := p.expectDelim(']', fmt.Sprintf("tensor %s: %s is not an array", quote(name), field)); err != nil {
		return nil, err
	}
	return out, nil
}

// describe names a JSON token for an error message.
func describe(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' || t == '}' {
			return "an object"
		}
		return "an array"
	case string:
		return quote(t)
	case json.Number:
		return "the number " + clip(string(t))
	case bool:
		return strconv.FormatBool(t)
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}

// maxQuoted bounds how much of a name or value from a file goes into an
// error message, so that a corrupt or hostile header cannot produce a
// megabyte-long error line.
const maxQuoted = 200

// quote renders a name for an error message: Go-quoted, so that control
// characters and newlines cannot break the one-line error, and clipped.
func quote(s string) string {
	return strconv.Quote(clip(s))
}

func clip(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	cut := maxQuoted
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
