package flac

import "errors"

var (
	// ErrNotFLAC is returned, wrapped with the detail, when the input does
	// not start with the "fLaC" marker (after an ID3v2 tag, if any) and a
	// STREAMINFO block.
	ErrNotFLAC = errors.New("flac: not a FLAC stream")

	// ErrUnsupported is returned, wrapped with the detail, for a stream the
	// decoder recognises but does not decode: more channels than
	// transform.MaxChannels, a bit depth outside 4 to 32, or frames whose
	// channels or depth differ from the STREAMINFO's.
	ErrUnsupported = errors.New("flac: unsupported stream")

	// ErrCorrupt is returned, wrapped with the byte offset of the frame and
	// what was wrong with it (a bad sync code, a CRC mismatch, a metadata
	// block that overruns its length), at the end of a stream cut short by
	// damage: every frame before it has been decoded.
	ErrCorrupt = errors.New("flac: damaged data")

	// ErrDecoderPanic is returned, wrapped with the panic value, inside
	// ErrCorrupt when mewkiz/flac panicked on a frame.
	ErrDecoderPanic = errors.New("flac: decoder panicked on corrupt input")
)
