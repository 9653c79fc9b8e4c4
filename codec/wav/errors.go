package wav

import "errors"

var (
	// ErrNotWAV is returned when the input does not start with a RIFF WAVE
	// header.
	ErrNotWAV = errors.New("wav: not a WAV file")

	// ErrUnsupported is returned, wrapped with the detail, for a WAV file
	// whose encoding is none of those Decoder reads, or whose format chunk
	// is inconsistent.
	ErrUnsupported = errors.New("wav: unsupported encoding")

	// ErrClosed is returned by writes after Close.
	ErrClosed = errors.New("wav: writer closed")
)
