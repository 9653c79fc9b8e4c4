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

	// ErrFilterParam is returned, wrapped with the parameter's name, its
	// value and its range, by a filter's constructor, Chain.Validate and
	// ParseChain given a parameter out of range or not finite, and by
	// ParseChain given a chain it cannot read.
	ErrFilterParam = errors.New("transform: filter parameter out of range")
)
