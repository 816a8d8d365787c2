package blob

import (
	"errors"
	"io"
)

// exactReader fails when the stream is shorter or longer than declared, so a
// wrong size never publishes a truncated object. It probes for a trailing
// byte as soon as the declared size is reached, because minio-go stops
// reading there. It hides io.ReaderAt and io.Seeker, which also keeps
// minio-go from retrying a half-read body.
type exactReader struct {
	r    io.Reader
	left int64
	err  error // sticky: io.EOF once complete, or the failure
}

var errTooLong = errors.New("reader is longer than the declared size")

// Read implements io.Reader.
func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.left == 0 { // declared size 0
		e.err = e.probe()
		return 0, e.err
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	switch {
	case err == io.EOF && e.left > 0:
		e.err = io.ErrUnexpectedEOF
	case err != nil && err != io.EOF:
		e.err = err
	case e.left == 0:
		e.err = e.probe() // io.EOF when the stream ends exactly here
		if e.err == io.EOF {
			return n, nil // report EOF on the next call
		}
	}
	return n, e.err
}

// probe returns io.EOF if the underlying reader is exhausted.
func (e *exactReader) probe() error {
	var one [1]byte
	n, err := io.ReadFull(e.r, one[:])
	if n > 0 {
		return errTooLong
	}
	return err
}
