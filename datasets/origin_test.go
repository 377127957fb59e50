package datasets

import (
	"os"
	"path/filepath"
	"testing"
)

// A set's origin names how to read it again and fingerprints its files: the same files
// give the same fingerprint wherever they are, a changed byte another.
func TestOrigin(t *testing.T) {
	a := filepath.Join(t.TempDir(), "a")
	b := filepath.Join(t.TempDir(), "b")
	for _, dir := range []string{a, b} {
		os.Mkdir(dir, 0o755)
		writeSet(t, dir, 5, 3, 2, 4, true, true)
	}
	sa, err := LoadImages(a)
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := LoadImages(b)
	if sa.Origin.Arg != a || sa.Origin.SHA256 == "" || sa.Origin.Bytes == 0 || !sa.Origin.Same(sb.Origin) {
		t.Fatalf("origins %+v and %+v", sa.Origin, sb.Origin)
	}
	label := filepath.Join(b, "t10k-labels-idx1-ubyte.gz")
	os.Remove(label)
	writeFile(t, b, "t10k-labels-idx1-ubyte", idxBytes([]int{3}, seq(3, 251)))
	if sb, _ = LoadImages(b); sa.Origin.Same(sb.Origin) {
		t.Fatal("other labels, the same fingerprint")
	}

	emb, err := LoadImages("")
	if err != nil || emb.Origin.Arg != "" || emb.Origin.Name != "mnist (embedded)" || emb.Origin.Bytes < 10_000_000 {
		t.Fatalf("embedded: %v %+v", err, emb.Origin)
	}

	text := filepath.Join(t.TempDir(), "c.txt")
	os.WriteFile(text, []byte("to be or not to be\n"), 0o644)
	c, err := LoadCorpus(text)
	if err != nil || c.Origin.Arg != text || c.Origin.Bytes != 19 ||
		c.Origin.SHA256 != originOf("", "", []byte("to be or not to be\n")).SHA256 {
		t.Fatalf("corpus: %v %+v", err, c.Origin)
	}
	if e, _ := LoadCorpus(""); e.Origin.Arg != "" || e.Origin.Same(c.Origin) {
		t.Fatalf("embedded corpus %+v", e.Origin)
	}

	g1, _ := GenerateTask("reverse", 20, 5, 1, 4, 1)
	g2, _ := GenerateTask("reverse", 20, 5, 1, 4, 2)
	if g1.Origin.Arg != "" || g1.Origin.Name != "task reverse" || g1.Origin.Same(g2.Origin) {
		t.Fatalf("tasks %+v %+v", g1.Origin, g2.Origin)
	}
	tsv := filepath.Join(t.TempDir(), "p.tsv")
	os.WriteFile(tsv, []byte("a b\tb a\nc\tc\n"), 0o644)
	p, err := LoadPairs(tsv, 0.5)
	if err != nil || p.Origin.Arg != tsv || p.Origin.Bytes != 12 {
		t.Fatalf("pairs: %v %+v", err, p.Origin)
	}
}
