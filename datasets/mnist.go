package datasets

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Images is a set of equally sized grayscale images and, optionally, their labels.
type Images struct {
	N, H, W int
	Pixels  []uint8 // N*H*W bytes, image after image, each row-major
	Labels  []uint8 // one per image, or nil when the set has no label file
	Source  string  // where the pixels came from, for messages
	// LabelSource is where the labels came from, for messages.
	LabelSource string
}

// CheckLabels makes sure the set has labels and that each is a class below classes, so a
// bad label is found when the data is read, naming its file and index, not at a training
// step.
func (im *Images) CheckLabels(classes int) error {
	if im.Labels == nil {
		return fmt.Errorf("%s: no label file beside the images, and this model learns from labels", im.Source)
	}
	for i, l := range im.Labels {
		if int(l) >= classes {
			return fmt.Errorf("%s: label %d of image %d is not one of the %d classes (0 to %d)", im.LabelSource, l, i, classes, classes-1)
		}
	}
	return nil
}

// Image returns the pixels of image i, H*W bytes sharing memory with Pixels.
func (im *Images) Image(i int) []uint8 {
	size := im.H * im.W
	return im.Pixels[i*size : (i+1)*size : (i+1)*size]
}

// ImageSet is a training set and a test set of images of the same size.
type ImageSet struct {
	Name        string
	Train, Test *Images
	Origin      Origin // where it was read from, and the fingerprint of its files
}

// imageSplit names the files of one split in the MNIST layout. Fashion-MNIST, KMNIST and
// EMNIST use the same names, so any of them can be dropped into a folder as is.
type imageSplit struct {
	what, images, labels string
}

var imageSplits = [2]imageSplit{
	{"training", "train-images-idx3-ubyte", "train-labels-idx1-ubyte"},
	{"test", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"},
}

//go:embed mnist/*.gz
var embeddedMNIST embed.FS

// embeddedImages decodes the embedded MNIST once per process: several commands may ask
// for it, and unpacking 55 MB each time would be wasted work.
var embeddedImages = sync.OnceValues(func() (*ImageSet, error) {
	open := func(base string) (io.ReadCloser, string, error) {
		name := "mnist/" + base + ".gz"
		f, err := embeddedMNIST.Open(name)
		return f, "embedded " + name, err
	}
	return loadImageSet("mnist", "embedded mnist", Origin{Name: "mnist (embedded)"}, open)
})

// LoadImages loads an image set.
//
// dir == "" is the MNIST embedded in the binary. Otherwise dir is a folder holding
// train-images-idx3-ubyte and t10k-images-idx3-ubyte and, optionally, both
// train-labels-idx1-ubyte and t10k-labels-idx1-ubyte, each raw or gzipped with a .gz
// suffix (raw wins when both are there). When no folder dir exists but dir names a
// known set (see KnownSets) downloaded by Download, the set is loaded from the cache;
// "mnist" falls back to the embedded copy, which is the same data.
//
// The embedded set is decoded once and shared between callers, so a returned set must
// be treated as read-only.
func LoadImages(dir string) (*ImageSet, error) {
	if dir == "" {
		return embeddedImages()
	}
	info, err := os.Stat(dir)
	switch {
	case err == nil && info.IsDir():
		name := filepath.Base(dir)
		if abs, err := filepath.Abs(dir); err == nil {
			name = filepath.Base(abs)
		}
		return loadImageDir(name, dir, absArg(dir))
	case err == nil:
		return nil, fmt.Errorf("%s: not a folder; want a folder holding MNIST-style IDX files", dir)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%s: %v", dir, err)
	}

	if _, known := lookupSet(knownSets, dir); !known {
		return nil, fmt.Errorf("%s: no such folder, and not a known data set (%s)",
			dir, strings.Join(KnownSets(), ", "))
	}
	if cache, err := CacheDir(); err == nil {
		cached := filepath.Join(cache, dir)
		if info, err := os.Stat(cached); err == nil && info.IsDir() {
			if missing := missingDownloads(dir, cached); len(missing) > 0 {
				if dir != "mnist" {
					return nil, fmt.Errorf("%s: the download in %s is unfinished (no %s); run `aigc data download %s` to complete it",
						dir, cached, strings.Join(missing, ", "), dir)
				}
			} else {
				return loadImageDir(dir, cached, dir)
			}
		}
	}
	if dir == "mnist" {
		return embeddedImages()
	}
	return nil, fmt.Errorf("%s: data set not downloaded; run `aigc data download %s` first", dir, dir)
}

// missingDownloads lists the files of the known set name that its cache folder lacks.
func missingDownloads(name, dir string) []string {
	set, _ := lookupSet(knownSets, name)
	var missing []string
	for _, f := range set.files {
		if _, err := findIDX(dir, strings.TrimSuffix(f.name, ".gz")); err != nil {
			missing = append(missing, f.name)
		}
	}
	return missing
}

// loadImageDir loads the set in folder dir, after checking that both images files exist
// so that a wrong folder is reported with everything it lacks.
func loadImageDir(name, dir, arg string) (*ImageSet, error) {
	var missing []string
	for _, s := range imageSplits {
		if _, err := findIDX(dir, s.images); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
			missing = append(missing, s.images+"[.gz]")
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%s: no %s; an image folder needs %s and %s, raw or gzipped with .gz",
			dir, strings.Join(missing, " or "), imageSplits[0].images, imageSplits[1].images)
	}
	open := func(base string) (io.ReadCloser, string, error) {
		path, err := findIDX(dir, base)
		if err != nil {
			return nil, "", err
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, path, pathError(path, err)
		}
		return f, path, nil
	}
	return loadImageSet(name, dir, Origin{Arg: arg, Name: absArg(dir)}, open)
}

// findIDX returns the path of base or base.gz in dir, or an error satisfying
// errors.Is(err, fs.ErrNotExist) when neither is there.
func findIDX(dir, base string) (string, error) {
	for _, path := range []string{filepath.Join(dir, base), filepath.Join(dir, base+".gz")} {
		info, err := os.Stat(path)
		if err == nil && !info.IsDir() {
			return path, nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s: %v", path, err)
		}
	}
	return "", fmt.Errorf("%s: no %s or %s.gz: %w", dir, base, base, fs.ErrNotExist)
}

// opener opens the IDX file with the given base name and reports the name to use in
// messages; a file that does not exist is reported with fs.ErrNotExist.
type opener func(base string) (io.ReadCloser, string, error)

// loadImageSet loads both splits, in parallel since each is mostly gzip work, and checks
// that they fit together. where names the source in messages; origin says where it is, and
// gets the fingerprint of the files read.
func loadImageSet(name, where string, origin Origin, open opener) (*ImageSet, error) {
	var sets [len(imageSplits)]*Images
	var errs [len(imageSplits)]error
	var hashes fileHashes
	hashed := func(base string) (io.ReadCloser, string, error) {
		r, name, err := open(base)
		if err != nil {
			return r, name, err
		}
		return hashes.reader(base, r), name, nil
	}
	var wg sync.WaitGroup
	for i, s := range imageSplits {
		wg.Go(func() { sets[i], errs[i] = loadSplit(s, hashed) })
	}
	wg.Wait()
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	train, test := sets[0], sets[1]
	if train.H != test.H || train.W != test.W {
		return nil, fmt.Errorf("%s: training images are %dx%d but test images are %dx%d",
			where, train.H, train.W, test.H, test.W)
	}
	if (train.Labels == nil) != (test.Labels == nil) {
		// A model conditioned on labels would train and then fail at evaluation.
		return nil, fmt.Errorf("%s: only one of %s and %s is present; provide both label files or neither",
			where, imageSplits[0].labels, imageSplits[1].labels)
	}
	var files []string
	for _, s := range imageSplits {
		files = append(files, s.images, s.labels)
	}
	origin = hashes.origin(origin.Arg, origin.Name, files)
	return &ImageSet{Name: name, Train: train, Test: test, Origin: origin}, nil
}

// loadSplit reads one split's images and, if present, labels.
func loadSplit(s imageSplit, open opener) (*Images, error) {
	img, imgName, err := readIDXFrom(open, s.images)
	if err != nil {
		return nil, err
	}
	if len(img.Dims) != 3 {
		return nil, fmt.Errorf("%s: %s images must have 3 dimensions (count x height x width), file has %s",
			imgName, s.what, formatDims(img.Dims))
	}
	im := &Images{N: img.Dims[0], H: img.Dims[1], W: img.Dims[2], Pixels: img.Data, Source: imgName}

	lab, labName, err := readIDXFrom(open, s.labels)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return im, nil
	case err != nil:
		return nil, err
	case len(lab.Dims) != 1:
		return nil, fmt.Errorf("%s: labels must have 1 dimension, file has %s", labName, formatDims(lab.Dims))
	case lab.Dims[0] != im.N:
		return nil, fmt.Errorf("%s: %d labels for the %d images in %s", labName, lab.Dims[0], im.N, imgName)
	}
	im.Labels, im.LabelSource = lab.Data, labName
	return im, nil
}

// readIDXFrom opens and reads one IDX file.
func readIDXFrom(open opener, base string) (*IDX, string, error) {
	r, name, err := open(base)
	if err != nil {
		return nil, name, err
	}
	defer r.Close()
	idx, err := ReadIDX(r, name)
	return idx, name, err
}
