package datasets

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
)

// knownSet is a data set `aigc data download` can fetch: four files under a base URL,
// each pinned by its SHA-256 so that a changed or tampered mirror is caught.
type knownSet struct {
	name    string
	baseURL string
	files   []knownFile
}

type knownFile struct {
	name   string
	sha256 string
}

// mnistFiles lists the four canonical file names, shared by every set in the family,
// with their checksums in the same order.
func mnistFiles(trainImages, trainLabels, testImages, testLabels string) []knownFile {
	return []knownFile{
		{"train-images-idx3-ubyte.gz", trainImages},
		{"train-labels-idx1-ubyte.gz", trainLabels},
		{"t10k-images-idx3-ubyte.gz", testImages},
		{"t10k-labels-idx1-ubyte.gz", testLabels},
	}
}

var knownSets = []knownSet{
	{"mnist", "https://ossci-datasets.s3.amazonaws.com/mnist/", mnistFiles(
		"440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
		"3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
		"8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
		"f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6")},
	{"fashion-mnist", "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/", mnistFiles(
		"08dc20ab1689590a0bcd66e874647b6ee8464e2d501b5a3f1f78831db19a3fdc",
		"b0197879cbda89f3dc7b894f9fd52b858e68ea4182b6947c9d8c2b67e5f18dcc",
		"78dcbbfb5a27efaf1b6c1d616caca68560be8766c5bffcb2791df9273a534229",
		"42bd18137a62d5998cdeae52bf3a0676ac6b706f5cf8439b47bb5b151ae3dccf")},
	{"kmnist", "http://codh.rois.ac.jp/kmnist/dataset/kmnist/", mnistFiles(
		"51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4",
		"e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17",
		"edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5",
		"20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c")},
}

// maxDownloadBytes stops a misbehaving server from filling the disk. The largest known
// file (Fashion-MNIST's training images) is 26 MB.
const maxDownloadBytes = 256 << 20

// KnownSets returns the names of the sets Download can fetch.
func KnownSets() []string {
	names := make([]string, len(knownSets))
	for i, s := range knownSets {
		names[i] = s.name
	}
	return names
}

func lookupSet(sets []knownSet, name string) (knownSet, bool) {
	for _, s := range sets {
		if s.name == name {
			return s, true
		}
	}
	return knownSet{}, false
}

// CacheDir returns the folder aigc caches downloads in: $XDG_CACHE_HOME/aigc, or
// $HOME/.cache/aigc when XDG_CACHE_HOME is unset.
func CacheDir() (string, error) {
	// The XDG spec says a relative XDG_CACHE_HOME is invalid and must be ignored.
	if dir := os.Getenv("XDG_CACHE_HOME"); dir != "" && filepath.IsAbs(dir) {
		return filepath.Join(dir, "aigc"), nil
	}
	home := os.Getenv("HOME")
	if home == "" {
		return "", errors.New("cannot find a cache folder: neither XDG_CACHE_HOME nor HOME is set")
	}
	return filepath.Join(home, ".cache", "aigc"), nil
}

// DownloadOptions says what Download fetches and where.
type DownloadOptions struct {
	Name     string       // a known set, see KnownSets
	CacheDir string       // defaults to CacheDir()
	BaseURL  string       // replaces the set's canonical base URL, for mirrors and tests
	Client   *http.Client // defaults to http.DefaultClient
	Log      io.Writer    // gets one line per file; nil for silence
}

// Download fetches the files of a known set into CACHE/NAME/ and returns that folder.
// A file already there with the right SHA-256 is kept; anything else is fetched again.
// Each file is written to a temporary file in the same folder, hashed on the way, synced,
// and renamed into place only when its checksum matches, so an interrupted or corrupt
// download never leaves a file that looks complete.
func Download(ctx context.Context, opts DownloadOptions) (string, error) {
	return download(ctx, opts, knownSets)
}

// download is Download with the table of sets as a parameter, so that tests can serve
// small fake sets with checksums of their own.
func download(ctx context.Context, opts DownloadOptions, sets []knownSet) (string, error) {
	set, ok := lookupSet(sets, opts.Name)
	if !ok {
		names := make([]string, len(sets))
		for i, s := range sets {
			names[i] = s.name
		}
		return "", fmt.Errorf("unknown data set %q; known sets: %s", opts.Name, strings.Join(names, ", "))
	}
	cache := opts.CacheDir
	if cache == "" {
		var err error
		if cache, err = CacheDir(); err != nil {
			return "", err
		}
	}
	dir := filepath.Join(cache, set.name)
	_, statErr := os.Stat(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", pathError(dir, err)
	}
	if errors.Is(statErr, fs.ErrNotExist) {
		// A download that fails before fetching anything leaves no empty folder behind,
		// which would later pass for a broken set rather than one never downloaded.
		defer func() { os.Remove(dir) }() // removes only an empty folder
	}
	base := set.baseURL
	if opts.BaseURL != "" {
		base = opts.BaseURL
	}
	d := downloader{client: opts.Client, log: opts.Log}
	if d.client == nil {
		d.client = http.DefaultClient
	}
	if d.log == nil {
		d.log = io.Discard
	}
	for _, f := range set.files {
		url := strings.TrimSuffix(base, "/") + "/" + f.name
		if err := d.fetch(ctx, url, filepath.Join(dir, f.name), f.sha256); err != nil {
			return "", fmt.Errorf("%s: %w", set.name, err)
		}
	}
	return dir, nil
}

// fetchError says in one line why url could not be fetched: the network's own reason
// (which a *url.Error would wrap in the URL a second time), and, where the machine looks
// offline, what to do instead.
func fetchError(url string, err error) error {
	var ue *neturl.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	hint := ""
	var dns *net.DNSError
	var op *net.OpError
	if errors.As(err, &dns) || errors.As(err, &op) {
		hint = " (is this machine offline? --mirror URL fetches the files from elsewhere, or put them in a folder and train with --data FOLDER)"
	}
	return fmt.Errorf("cannot download %s: %v%s", url, err, hint)
}

type downloader struct {
	client *http.Client
	log    io.Writer
}

// fetch makes path hold the file at url with the given SHA-256.
func (d downloader) fetch(ctx context.Context, url, path, want string) error {
	got, err := fileSHA256(path)
	switch {
	case err == nil && got == want:
		fmt.Fprintf(d.log, "%s: already present, sha256 verified\n", path)
		return nil
	case err == nil:
		fmt.Fprintf(d.log, "%s: present but its sha256 is %s, not %s; fetching again\n", path, got, want)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%s: %v", url, err)
	}
	resp, err := d.client.Do(req)
	if err != nil {
		return fetchError(url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %s", url, resp.Status)
	}

	n, err := writeVerified(path, io.LimitReader(resp.Body, maxDownloadBytes+1), url, want)
	if err != nil {
		return err
	}
	fmt.Fprintf(d.log, "%s: fetched %s (%d bytes), sha256 verified\n", path, url, n)
	return nil
}

// writeVerified copies body to path through a temporary file in the same folder, which is
// renamed into place only after the data is synced and its SHA-256 equals want. On any
// failure nothing is left behind.
func writeVerified(path string, body io.Reader, url, want string) (n int64, err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.part")
	if err != nil {
		return 0, pathError(dir, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	h := sha256.New()
	n, err = io.Copy(io.MultiWriter(tmp, h), body)
	if err != nil {
		return n, fmt.Errorf("GET %s: %w", url, err)
	}
	if n > maxDownloadBytes {
		return n, fmt.Errorf("GET %s: response larger than %d bytes", url, maxDownloadBytes)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return n, fmt.Errorf("%s: sha256 mismatch: expected %s, got %s; download discarded", url, want, got)
	}
	// CreateTemp makes the file private; a cache entry is ordinary data.
	if err = tmp.Chmod(0o644); err != nil {
		return n, pathError(tmp.Name(), err)
	}
	// Syncing before the rename means a crash leaves either no file or a complete one.
	if err = tmp.Sync(); err != nil {
		return n, pathError(tmp.Name(), err)
	}
	if err = tmp.Close(); err != nil {
		return n, pathError(tmp.Name(), err)
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return n, pathError(path, err)
	}
	syncDir(dir)
	return n, nil
}

// syncDir makes a rename in dir durable. It is best effort: some systems cannot sync a
// folder, and the file itself is already complete.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// fileSHA256 returns the hex SHA-256 of the file at path.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", pathError(path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", pathError(path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
