package transform

import "errors"

var (
	// ErrPartialFrame is returned, wrapped with the byte counts, when the
	// input ends inside a frame. Every whole frame before it has been
	// transformed; the trailing bytes are dropped.
	ErrPartialFrame = errors.New("transform: input ends inside a frame")

	// ErrFormat is returned, wrapped with the detail, by a constructor given
	// a format, rate, encoding, matrix or option it cannot handle.
	ErrFormat = errors.New("transform: unsupported format")
)
