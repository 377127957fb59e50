package words

import "testing"

func TestClosest(t *testing.T) {
	names := []string{"classifier", "gan", "gpt", "lstm", "rnn", "transformer", "vae"}
	for word, want := range map[string]string{
		"vea": "vae", "lstn": "lstm", "gtp": "gpt", "transfomer": "transformer", "zzzzzz": "", "vae": "vae",
	} {
		if got := Closest(word, names); got != want {
			t.Errorf("Closest(%q) = %q, want %q", word, got, want)
		}
	}
}

func TestDistance(t *testing.T) {
	for _, c := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"", "abc", 3}, {"kitten", "sitting", 3}, {"lr", "lrr", 1}, {"vae", "vea", 1}, {"gtp", "gpt", 1}} {
		if got := Distance(c.a, c.b); got != c.d {
			t.Errorf("Distance(%q, %q) = %d, want %d", c.a, c.b, got, c.d)
		}
	}
}

func TestList(t *testing.T) {
	if got := List([]string{"vae", "gan", "rnn"}); got != "gan, rnn, vae" {
		t.Fatal(got)
	}
}
