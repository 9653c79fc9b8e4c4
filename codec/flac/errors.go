package flac

import "errors"

var (
	// ErrNotFLAC is returned, wrapped with the detail, when the input does
	// not start with the "fLaC" marker (after an ID3v2 tag, if any) and a
	// STREAMINFO block.
	ErrNotFLAC = errors.New("flac: not a FLAC stream")

	// ErrUnsupported is returned, wrapped with the detail, for a stream the
	// decoder recognises but does not decode: a depth other than 8, 12,
	// 16, 20 or 24 bits (32-bit FLAC among them), a sample rate of 0, or
	// frames whose channels, depth or rate differ from the STREAMINFO's.
	ErrUnsupported = errors.New("flac: unsupported stream")

	// ErrCorrupt is returned, wrapped with the byte offset of the frame and
	// what was wrong with it (a bad sync code, a CRC mismatch, a metadata
	// block that overruns its length), at the end of a stream cut short by
	// damage: every frame before it has been decoded.
	ErrCorrupt = errors.New("flac: damaged data")

	// ErrNoSeekTable is returned by Seek for a stream without a seek
	// table: it can be decoded only from its start.
	ErrNoSeekTable = errors.New("flac: no seek table")

	// ErrDecoderPanic is returned, wrapped with the panic value, inside
	// ErrCorrupt when mewkiz/flac panicked on a frame.
	ErrDecoderPanic = errors.New("flac: decoder panicked on corrupt input")
)
