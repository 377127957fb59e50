package datasets

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEmbeddedShakespeareSplitsLikeNanoGPT(t *testing.T) {
	c, err := LoadCorpus("")
	if err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCountInString(c.Text); n != 1115394 {
		t.Fatalf("tiny Shakespeare has %d characters, want 1,115,394", n)
	}
	// nanoGPT's shakespeare_char/prepare.py: train 1,003,854 and val 111,540 tokens.
	if a, b := utf8.RuneCountInString(c.Train), utf8.RuneCountInString(c.Val); a != 1003854 || b != 111540 {
		t.Fatalf("split %d/%d, want 1003854/111540", a, b)
	}
	if c.Train+c.Val != c.Text || !strings.HasPrefix(c.Text, "First Citizen:") {
		t.Fatal("the splits do not rebuild the text")
	}
}

func TestLoadCorpusErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		path, want string
	}{
		{filepath.Join(dir, "missing.txt"), "missing.txt: no such file"},
		{write("empty.txt", nil), "empty.txt: the corpus is empty"},
		{write("latin1.txt", []byte("caf\xe9 au lait")), "latin1.txt: invalid UTF-8 at byte offset 3"},
		{write("cut.txt", []byte("ok \xe2\x82")), "cut.txt: invalid UTF-8 at byte offset 3"},
	}
	for _, c := range cases {
		_, err := LoadCorpus(c.path)
		if err == nil || !strings.HasSuffix(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("LoadCorpus(%s) = %v, want an error ending in %q", filepath.Base(c.path), err, c.want)
		}
	}
	p := write("ok.txt", []byte("naïve café ☕\n"))
	c, err := LoadCorpus(p)
	if err != nil || c.Source != p || c.Train+c.Val != c.Text {
		t.Fatalf("LoadCorpus(ok.txt) = %+v, %v", c, err)
	}
}
