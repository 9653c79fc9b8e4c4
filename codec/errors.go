package codec

import (
	"errors"
	"fmt"
)

var (
	// ErrUnknownFormat is returned by Detect for input that is none of the
	// formats it knows.
	ErrUnknownFormat = errors.New("codec: unknown format")

	// ErrUnsupported is returned, wrapped with the detail, by Detect for
	// input it recognises but this module cannot decode (MPEG-2.5, Ogg
	// that is not Opus), and at the end of a NewDecoder stream whose input
	// it cannot decode to PCM itself (Ogg Opus, which takes libopus).
	ErrUnsupported = errors.New("codec: unsupported input")

	// ErrMPEG25 is returned by Detect for MPEG-2.5 audio; it wraps
	// ErrUnsupported. NewDecoder decodes it with the Native MP3 decoder
	// (WithMP3Engine(mp3.Native), the default), not with go-mp3.
	ErrMPEG25 = fmt.Errorf("%w: MPEG-2.5 audio, which go-mp3 does not decode (mp3.Native does)", ErrUnsupported)
)
