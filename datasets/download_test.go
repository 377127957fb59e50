package datasets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeSet serves a small set over a local server and describes it as a known set.
type fakeSet struct {
	srv   *httptest.Server
	set   knownSet
	files map[string][]byte

	mu   sync.Mutex
	hits map[string]int
}

func newFakeSet(t *testing.T) *fakeSet {
	fake := &fakeSet{files: map[string][]byte{}, hits: map[string]int{}}
	fake.set.name = "tiny"
	for i, name := range []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
		"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"} {
		b := gzipBytes(t, idxBytes([]int{2 + i}, seq(2+i, byte(i))))
		sum := sha256.Sum256(b)
		fake.files[name] = b
		fake.set.files = append(fake.set.files, knownFile{name, hex.EncodeToString(sum[:])})
	}
	fake.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/sets/")
		fake.mu.Lock()
		fake.hits[name]++
		b, ok := fake.files[name]
		fake.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(fake.srv.Close)
	fake.set.baseURL = fake.srv.URL + "/sets/"
	return fake
}

func (fake *fakeSet) totalHits() int {
	fake.mu.Lock()
	defer fake.mu.Unlock()
	n := 0
	for _, h := range fake.hits {
		n += h
	}
	return n
}

func (fake *fakeSet) download(t *testing.T, cache string, log *strings.Builder) (string, error) {
	opts := DownloadOptions{Name: "tiny", CacheDir: cache, Client: fake.srv.Client()}
	if log != nil {
		opts.Log = log
	}
	return download(context.Background(), opts, []knownSet{fake.set})
}

// names lists the entries of dir, hidden temporary files included.
func names(t *testing.T, dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func TestDownload(t *testing.T) {
	fake := newFakeSet(t)
	cache := t.TempDir()
	var log strings.Builder
	dir, err := fake.download(t, cache, &log)
	if err != nil {
		t.Fatal(err)
	}
	if dir != filepath.Join(cache, "tiny") {
		t.Errorf("dir %q", dir)
	}
	for name, want := range fake.files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || string(got) != string(want) {
			t.Errorf("%s: wrong contents (%v)", name, err)
		}
	}
	if got := names(t, dir); len(got) != 4 {
		t.Errorf("folder holds %v", got)
	}
	if n := strings.Count(log.String(), "sha256 verified\n"); n != 4 || strings.Count(log.String(), "fetched") != 4 {
		t.Errorf("log:\n%s", log.String())
	}
	info, err := os.Stat(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", info.Mode())
	}

	// The second run finds everything in place.
	log.Reset()
	if _, err := fake.download(t, cache, &log); err != nil {
		t.Fatal(err)
	}
	if fake.totalHits() != 4 {
		t.Errorf("%d requests, want the first run's 4", fake.totalHits())
	}
	if strings.Count(log.String(), "already present, sha256 verified\n") != 4 {
		t.Errorf("log:\n%s", log.String())
	}

	// A damaged file is fetched again.
	damaged := filepath.Join(dir, "train-labels-idx1-ubyte.gz")
	writeFile(t, dir, "train-labels-idx1-ubyte.gz", []byte("junk"))
	log.Reset()
	if _, err := fake.download(t, cache, &log); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(damaged); string(got) != string(fake.files["train-labels-idx1-ubyte.gz"]) {
		t.Error("damaged file not replaced")
	}
	if !strings.Contains(log.String(), "fetching again") {
		t.Errorf("log:\n%s", log.String())
	}
}

func TestDownloadHashMismatch(t *testing.T) {
	fake := newFakeSet(t)
	fake.set.files[2].sha256 = strings.Repeat("0", 64)
	cache := t.TempDir()
	_, err := fake.download(t, cache, nil)
	url := fake.srv.URL + "/sets/t10k-images-idx3-ubyte.gz"
	if err == nil || !strings.HasPrefix(err.Error(), "tiny: "+url+": sha256 mismatch: expected "+strings.Repeat("0", 64)+", got ") {
		t.Fatalf("error %v", err)
	}
	// The two files before it stay; the bad one leaves nothing, not even a temporary file.
	want := []string{"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"}
	if got := names(t, filepath.Join(cache, "tiny")); !slices.Equal(got, want) {
		t.Fatalf("folder holds %v, want %v", got, want)
	}
}

func TestDownloadHTTPError(t *testing.T) {
	fake := newFakeSet(t)
	delete(fake.files, "train-images-idx3-ubyte.gz")
	cache := t.TempDir()
	_, err := fake.download(t, cache, nil)
	want := "tiny: GET " + fake.srv.URL + "/sets/train-images-idx3-ubyte.gz: HTTP 404 Not Found"
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	// Nothing was fetched: no empty folder is left to pass for a damaged download.
	if got := names(t, cache); len(got) != 0 {
		t.Fatalf("cache holds %v", got)
	}
}

// Offline: one line naming the URL once, the network's reason and what to do instead.
func TestDownloadOffline(t *testing.T) {
	fake := newFakeSet(t)
	fake.srv.Close() // nothing listens there any more: the connection is refused
	cache := t.TempDir()
	_, err := fake.download(t, cache, nil)
	url := fake.srv.URL + "/sets/train-images-idx3-ubyte.gz"
	if err == nil || !strings.HasPrefix(err.Error(), "tiny: cannot download "+url+": dial tcp") ||
		strings.Count(err.Error(), url) != 1 || !strings.Contains(err.Error(), "is this machine offline? --mirror URL") {
		t.Fatalf("error %v", err)
	}
	if got := names(t, cache); len(got) != 0 {
		t.Fatalf("cache holds %v", got)
	}
}

// The real table's mnist entry accepts the embedded files, served as a mirror.
func TestDownloadRealChecksums(t *testing.T) {
	srv := httptest.NewServer(http.StripPrefix("/m/", http.FileServerFS(embeddedMNIST)))
	defer srv.Close()
	cache := t.TempDir()
	dir, err := Download(context.Background(), DownloadOptions{
		Name: "mnist", CacheDir: cache, BaseURL: srv.URL + "/m/mnist", Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(t, dir); len(got) != 4 {
		t.Fatalf("folder holds %v", got)
	}
}

func TestDownloadUnknown(t *testing.T) {
	_, err := Download(context.Background(), DownloadOptions{Name: "cifar", CacheDir: t.TempDir()})
	want := `unknown data set "cifar"; known sets: mnist, fashion-mnist, kmnist`
	if err == nil || err.Error() != want {
		t.Fatalf("error %v, want %q", err, want)
	}
	if !slices.Equal(KnownSets(), []string{"mnist", "fashion-mnist", "kmnist"}) {
		t.Errorf("KnownSets() = %v", KnownSets())
	}
}

func TestCacheDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", "/xdg")
	t.Setenv("HOME", "/home/u")
	if dir, err := CacheDir(); err != nil || dir != "/xdg/aigc" {
		t.Errorf("got %q, %v", dir, err)
	}
	t.Setenv("XDG_CACHE_HOME", "")
	if dir, err := CacheDir(); err != nil || dir != "/home/u/.cache/aigc" {
		t.Errorf("got %q, %v", dir, err)
	}
	t.Setenv("HOME", "")
	if _, err := CacheDir(); err == nil {
		t.Error("no error without HOME")
	}
}
