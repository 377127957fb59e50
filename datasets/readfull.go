package datasets

import "io"

// initialReadBuffer is the first allocation when reading a body whose length comes from an
// untrusted header. The buffer grows only as data actually arrives, so a tiny file that
// claims gigabytes costs kilobytes, while a real 47 MB MNIST file needs a handful of
// doublings.
const initialReadBuffer = 64 << 10

// readUpTo reads until it has n bytes, r reports an error, or r ends. It returns what it
// read and the reader's error: nil when all n bytes arrived, io.EOF when r ended cleanly
// before that, anything else as reported.
func readUpTo(r io.Reader, n int64) ([]byte, error) {
	buf := make([]byte, 0, min(n, initialReadBuffer))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(n, 2*int64(cap(buf))))
			copy(grown, buf)
			buf = grown
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err != nil {
			if int64(len(buf)) == n && err == io.EOF {
				return buf, nil
			}
			return buf, err
		}
	}
	return buf, nil
}
