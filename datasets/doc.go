// Package datasets loads the data aigc trains on and writes what it produces.
//
// It reads IDX files (the MNIST family's format) from the embedded MNIST or a folder,
// downloads the known sets into a checksum-verified cache, streams minibatches to the
// models with a prefetching goroutine and recycled buffers, and writes sample grids as
// PNG and arrays as NPY for numpy.
//
// For the language models it reads UTF-8 corpora (tiny Shakespeare is embedded), turns
// them into tokens (characters, or a byte-level BPE learnt from the corpus) and streams
// windows of tokens: random windows or contiguous rows for training, a sweep for
// evaluation.
package datasets
