package datasets

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestGeneratedTasks(t *testing.T) {
	for _, name := range TaskNames {
		set, err := GenerateTask(name, 200, 50, 5, 20, 1)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := GenerateTask(name, 200, 50, 5, 20, 1)
		if !reflect.DeepEqual(set, again) {
			t.Fatalf("%s: not deterministic for a seed", name)
		}
		for _, p := range append(set.Train, set.Test...) {
			switch name {
			case "reverse":
				if len(p.Source) < 5 || len(p.Source) > 20 || !slices.Equal(p.Target, reversed(p.Source)) {
					t.Fatalf("reverse %v → %v", p.Source, p.Target)
				}
			case "sort":
				if !slices.IsSorted(p.Target) || len(p.Target) != len(p.Source) {
					t.Fatalf("sort %v → %v", p.Source, p.Target)
				}
			case "add":
				i := slices.Index(p.Source, "+")
				a, _ := strconv.Atoi(strings.Join(p.Source[:i], ""))
				b, _ := strconv.Atoi(strings.Join(p.Source[i+1:], ""))
				if c, _ := strconv.Atoi(strings.Join(p.Target, "")); c != a+b {
					t.Fatalf("add %v → %v", p.Source, p.Target)
				}
			}
		}
		if reflect.DeepEqual(set.Train[:50], set.Test) {
			t.Fatalf("%s: the test set repeats the training set", name)
		}
	}
	if _, err := GenerateTask("copy", 1, 1, 5, 20, 1); err == nil || !strings.Contains(err.Error(), "unknown task") {
		t.Fatalf("unknown task: %v", err)
	}
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

func TestLoadPairs(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.tsv")
	os.WriteFile(good, []byte("a b c\tc b a\n\nx y\ty x\r\nq\tq\nz z\tz\n"), 0o644)
	set, err := LoadPairs(good, 0.25)
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Train) != 3 || len(set.Test) != 1 || !slices.Equal(set.Train[1].Target, []string{"y", "x"}) {
		t.Fatalf("pairs %+v", set)
	}
	for name, content := range map[string]string{
		"notab.tsv":  "a b\tb a\nno tab here\n",
		"twotab.tsv": "a\tb\tc\n",
		"empty.tsv":  "a b\tb a\n \t x\n",
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		_, err := LoadPairs(p, 0.1)
		if err == nil || !strings.Contains(err.Error(), name+": line 2") && !strings.Contains(err.Error(), name+": line 1") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestPairBatchesAndVocab(t *testing.T) {
	pairs := []Pair{{[]string{"1", "2"}, []string{"2", "1"}}, {[]string{"3"}, []string{"3"}}, {[]string{"1", "2", "3"}, []string{"3", "2", "1"}}}
	v := NewVocab(pairs)
	if v.Tokens[0] != "<pad>" || v.Tokens[2] != "<eos>" || len(v.Tokens) != 6 {
		t.Fatalf("vocabulary %v", v.Tokens)
	}
	var src, tgt [][]int32
	for _, p := range pairs {
		s, _ := v.Encode(p.Source)
		d, _ := v.Encode(p.Target)
		src, tgt = append(src, s), append(tgt, d)
	}
	bs, err := PairBatches(src, tgt, 2, 3, 4, false, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 || bs[0].Valid != 2 || bs[1].Valid != 1 {
		t.Fatalf("%d batches", len(bs))
	}
	b := bs[0]
	// Row 0: source "1 2", decoder in <bos> 2 1, out 2 1 <eos>.
	if !slices.Equal(b.Source[:3], []int32{3, 4, 0}) || !slices.Equal(b.SourceMask[:3], []float32{1, 1, 0}) ||
		!slices.Equal(b.DecIn[:4], []int32{BOSID, 4, 3, 0}) || !slices.Equal(b.DecOut[:4], []int32{4, 3, EOSID, 0}) ||
		!slices.Equal(b.TargetMask[:4], []float32{1, 1, 1, 0}) {
		t.Fatalf("batch %+v", b)
	}
	if got := v.Decode([]int32{4, 3, EOSID, 5}); !slices.Equal(got, []string{"2", "1"}) {
		t.Fatalf("decode %v", got)
	}
	if _, err := v.Encode([]string{"7", "x"}); err == nil || !strings.Contains(err.Error(), `"7", "x"`) {
		t.Fatalf("unknown tokens: %v", err)
	}
	if _, err := PairBatches(src, tgt, 2, 2, 4, false, 1, 0); err == nil {
		t.Fatal("a source longer than the model's accepted")
	}
}

func TestPairStream(t *testing.T) {
	set, _ := GenerateTask("reverse", 50, 10, 3, 6, 2)
	v := NewVocab(set.Train)
	var src, tgt [][]int32
	for _, p := range set.Train {
		s, _ := v.Encode(p.Source)
		d, _ := v.Encode(p.Target)
		src, tgt = append(src, s), append(tgt, d)
	}
	ps, err := NewPairStream(src, tgt, 8, 6, 7, true, 5, Shard{})
	if err != nil {
		t.Fatal(err)
	}
	all := func(epoch, start int) (out [][]int32) {
		for b := range ps.Epoch(context.Background(), epoch, start) {
			out = append(out, b.Pairs.Source)
		}
		return out
	}
	e1 := all(1, 0)
	if len(e1) != ps.BatchesPerEpoch() || len(e1) != 7 || !reflect.DeepEqual(all(1, 3), e1[3:]) {
		t.Fatal("resuming an epoch mid-way gives other batches")
	}
	if reflect.DeepEqual(all(2, 0), e1) {
		t.Fatal("two epochs in the same order")
	}
	if _, err := NewPairStream(src, tgt, 8, 4, 7, true, 5, Shard{}); err == nil {
		t.Fatal("sources longer than the model's accepted")
	}
}
