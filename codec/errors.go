package codec

import "errors"

var (
	// ErrUnknownFormat is returned by Detect for input that is none of the
	// formats it knows.
	ErrUnknownFormat = errors.New("codec: unknown format")

	// ErrUnsupported is returned, wrapped with the detail, by Detect for
	// input it recognises but this module cannot decode (MPEG-2.5, Ogg
	// that is not Opus), and at the end of a NewDecoder stream whose input
	// it cannot decode to PCM itself (Ogg Opus, which takes libopus).
	ErrUnsupported = errors.New("codec: unsupported input")
)
