// Package datasets loads the data aigc trains on and writes what it produces.
//
// It reads IDX files (the MNIST family's format) from the embedded MNIST or a folder,
// downloads the known sets into a checksum-verified cache, streams minibatches to the
// models with a prefetching goroutine and recycled buffers, and writes sample grids as
// PNG and arrays as NPY for numpy.
package datasets
