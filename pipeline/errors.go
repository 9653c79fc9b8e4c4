package pipeline

import "errors"

var (
	// ErrChanged is returned, wrapped with the detail, by an HTTP source
	// when a resumed request shows that the resource changed, or that the
	// server does not serve ranges: resuming would splice two files.
	ErrChanged = errors.New("pipeline: source changed since it was opened")

	// ErrHTTP is returned, wrapped with the status and the URL, for an
	// HTTP response that is neither the resource nor a transient failure
	// (a 404, say), and for one a source cannot use.
	ErrHTTP = errors.New("pipeline: HTTP request failed")

	// ErrCommand is returned, wrapped with the exit status and the end of
	// the command's standard error, when a command source's process exits
	// with a failure.
	ErrCommand = errors.New("pipeline: command failed")

	// ErrClosed is returned by a source's Read after its Close.
	ErrClosed = errors.New("pipeline: source closed")
)

// ErrNoEncoder is returned, wrapped with what is missing, by a Track whose
// input must be Opus-encoded (MP3, WAV, raw PCM) and by a PCMReader's
// reads, in a program built without cgo, which has no libopus: such a
// program plays Ogg Opus input, framed as it is, and nothing else.
var ErrNoEncoder = errors.New("pipeline: no Opus encoder in this build")
