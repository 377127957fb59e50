package datasets

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadEmbeddedMNIST(t *testing.T) {
	set, err := LoadImages("")
	if err != nil {
		t.Fatal(err)
	}
	if set.Name != "mnist" {
		t.Errorf("name %q", set.Name)
	}
	for _, c := range []struct {
		im        *Images
		n         int
		firstDigt uint8
	}{{set.Train, 60000, 5}, {set.Test, 10000, 7}} {
		im := c.im
		if im.N != c.n || im.H != 28 || im.W != 28 || len(im.Pixels) != c.n*28*28 || len(im.Labels) != c.n {
			t.Fatalf("%s: %d images of %dx%d, %d pixels, %d labels", im.Source, im.N, im.H, im.W, len(im.Pixels), len(im.Labels))
		}
		if im.Labels[0] != c.firstDigt {
			t.Errorf("%s: first label %d, want %d", im.Source, im.Labels[0], c.firstDigt)
		}
		for i, l := range im.Labels {
			if l > 9 {
				t.Fatalf("%s: label %d is %d", im.Source, i, l)
			}
		}
		if len(im.Image(c.n-1)) != 28*28 || im.Image(0)[0] != 0 {
			t.Errorf("%s: bad first image", im.Source)
		}
	}
	again, err := LoadImages("")
	if err != nil || again != set {
		t.Errorf("second load did not reuse the decoded set")
	}
}

// writeSet writes a small set into dir: train and test images of h×w, labels if asked,
// gzipped or raw.
func writeSet(t *testing.T, dir string, nTrain, nTest, h, w int, labels, gz bool) {
	t.Helper()
	files := map[string][]byte{
		"train-images-idx3-ubyte": idxBytes([]int{nTrain, h, w}, seq(nTrain*h*w, 0)),
		"t10k-images-idx3-ubyte":  idxBytes([]int{nTest, h, w}, seq(nTest*h*w, 100)),
	}
	if labels {
		files["train-labels-idx1-ubyte"] = idxBytes([]int{nTrain}, seq(nTrain, 200))
		files["t10k-labels-idx1-ubyte"] = idxBytes([]int{nTest}, seq(nTest, 250))
	}
	for name, b := range files {
		if gz {
			name, b = name+".gz", gzipBytes(t, b)
		}
		writeFile(t, dir, name, b)
	}
}

func TestLoadImagesFolder(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "tiny")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeSet(t, dir, 5, 3, 2, 4, true, gz)
		set, err := LoadImages(dir)
		if err != nil {
			t.Fatal(err)
		}
		if set.Name != "tiny" || set.Train.N != 5 || set.Test.N != 3 || set.Train.H != 2 || set.Test.W != 4 {
			t.Fatalf("gz=%v: got %+v / %+v", gz, set.Train, set.Test)
		}
		if !bytes.Equal(set.Train.Image(1), seq(8, 8)) || !bytes.Equal(set.Test.Labels, seq(3, 250)) {
			t.Fatalf("gz=%v: wrong contents", gz)
		}
		if !strings.HasPrefix(set.Train.Source, dir) {
			t.Errorf("source %q", set.Train.Source)
		}
	}
}

func TestLoadImagesWithoutLabels(t *testing.T) {
	dir := t.TempDir()
	writeSet(t, dir, 4, 2, 3, 3, false, true)
	set, err := LoadImages(dir)
	if err != nil {
		t.Fatal(err)
	}
	if set.Train.Labels != nil || set.Test.Labels != nil {
		t.Fatal("labels where there are no label files")
	}
}

func TestLoadImagesErrors(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, dir string)
		wantErr string
	}{
		{"empty folder", func(t *testing.T, dir string) {},
			"no train-images-idx3-ubyte[.gz] or t10k-images-idx3-ubyte[.gz]; an image folder needs"},
		{"missing test images", func(t *testing.T, dir string) {
			writeSet(t, dir, 4, 2, 3, 3, false, false)
			os.Remove(filepath.Join(dir, "t10k-images-idx3-ubyte"))
		}, "no t10k-images-idx3-ubyte[.gz];"},
		{"two-dimensional images", func(t *testing.T, dir string) {
			writeSet(t, dir, 4, 2, 3, 3, false, false)
			writeFile(t, dir, "train-images-idx3-ubyte", idxBytes([]int{4, 9}, seq(36, 0)))
		}, "train-images-idx3-ubyte: training images must have 3 dimensions (count x height x width), file has 4x9"},
		{"label count", func(t *testing.T, dir string) {
			writeSet(t, dir, 4, 2, 3, 3, true, false)
			writeFile(t, dir, "t10k-labels-idx1-ubyte", idxBytes([]int{3}, seq(3, 0)))
		}, "t10k-labels-idx1-ubyte: 3 labels for the 2 images in"},
		{"label dimensions", func(t *testing.T, dir string) {
			writeSet(t, dir, 4, 2, 3, 3, true, false)
			writeFile(t, dir, "train-labels-idx1-ubyte", idxBytes([]int{4, 1}, seq(4, 0)))
		}, "train-labels-idx1-ubyte: labels must have 1 dimension, file has 4x1"},
		{"one label file", func(t *testing.T, dir string) {
			writeSet(t, dir, 4, 2, 3, 3, true, false)
			os.Remove(filepath.Join(dir, "t10k-labels-idx1-ubyte"))
		}, "only one of train-labels-idx1-ubyte and t10k-labels-idx1-ubyte is present"},
		{"size mismatch", func(t *testing.T, dir string) {
			writeSet(t, dir, 4, 2, 3, 3, false, false)
			writeFile(t, dir, "t10k-images-idx3-ubyte", idxBytes([]int{2, 3, 4}, seq(24, 0)))
		}, "training images are 3x3 but test images are 3x4"},
		{"corrupt file", func(t *testing.T, dir string) {
			writeSet(t, dir, 4, 2, 3, 3, false, true)
			writeFile(t, dir, "train-images-idx3-ubyte.gz", []byte{0x1f, 0x8b, 1, 2, 3})
		}, "train-images-idx3-ubyte.gz: corrupt gzip stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.setup(t, dir)
			_, err := LoadImages(dir)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoadImagesNotAFolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "file")
	writeFile(t, filepath.Dir(path), "file", nil)
	if _, err := LoadImages(path); err == nil || !strings.Contains(err.Error(), "not a folder") {
		t.Fatalf("error %v", err)
	}
	_, err := LoadImages(filepath.Join(t.TempDir(), "nowhere"))
	if err == nil || !strings.Contains(err.Error(), "no such folder, and not a known data set (mnist, fashion-mnist, kmnist)") {
		t.Fatalf("error %v", err)
	}
}

func TestLoadImagesFromCache(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Chdir(t.TempDir()) // the package folder has an mnist folder of its own
	dir := filepath.Join(cache, "aigc", "kmnist")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeSet(t, dir, 3, 2, 2, 2, true, true)
	set, err := LoadImages("kmnist")
	if err != nil {
		t.Fatal(err)
	}
	if set.Name != "kmnist" || set.Train.N != 3 || !strings.HasPrefix(set.Test.Source, dir) {
		t.Fatalf("got %q with %d training images", set.Name, set.Train.N)
	}

	_, err = LoadImages("fashion-mnist")
	want := "fashion-mnist: data set not downloaded; run `aigc data download fashion-mnist` first"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}

	// A download that stopped halfway says so, and how to finish it.
	unfinished := filepath.Join(cache, "aigc", "fashion-mnist")
	os.MkdirAll(unfinished, 0o755)
	writeSet(t, unfinished, 3, 2, 2, 2, true, false)
	os.Remove(filepath.Join(unfinished, "t10k-images-idx3-ubyte"))
	_, err = LoadImages("fashion-mnist")
	want = "fashion-mnist: the download in " + unfinished + " is unfinished (no t10k-images-idx3-ubyte.gz); run `aigc data download fashion-mnist` to complete it"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}

	set, err = LoadImages("mnist") // not cached: the embedded copy
	if err != nil || set.Train.N != 60000 || !strings.HasPrefix(set.Train.Source, "embedded ") {
		t.Fatalf("mnist: %v", err)
	}
}
