package mp3

import "errors"

var (
	// ErrNotMP3 is returned, wrapped with the detail, when the input holds
	// no MPEG Layer III frame (no frame sync, or only other layers).
	ErrNotMP3 = errors.New("mp3: not an MP3 stream")

	// ErrUnsupported is returned, wrapped with the detail, for a stream
	// that the decoder recognises but cannot decode correctly with go-mp3:
	// MPEG-2.5, and padded MPEG-2 frames that go-mp3 mis-sizes (the Native
	// decoder decodes both). Nothing is decoded as silence in their place.
	ErrUnsupported = errors.New("mp3: unsupported stream")

	// ErrCorrupt is returned, wrapped with the byte offsets of the damage,
	// at the end of a stream in which damaged regions were skipped: every
	// frame that could be decoded before and after them has been.
	ErrCorrupt = errors.New("mp3: damaged data skipped")

	// ErrDecoderPanic is returned, wrapped with the panic value, when
	// go-mp3 panicked on a frame. That decoder is dropped and a new one
	// continues after the frame; the error is reported inside ErrCorrupt
	// at the end of the stream.
	ErrDecoderPanic = errors.New("mp3: decoder panicked on corrupt input")

	// errSideInfo is a frame's side information that no encoder writes
	// (more than 576 lines of big values, a reserved block type): the
	// frame is damaged.
	errSideInfo = errors.New("mp3: bad side information")

	// errCRC is a CRC-protected frame whose check word does not match.
	errCRC = errors.New("mp3: CRC mismatch")

	// errMainData is a granule whose scale factors and Huffman code run
	// past the frame's main data, or end elsewhere than its
	// part2_3_length says.
	errMainData = errors.New("mp3: bad main data")

	// errNoTable is a granule whose table_select names a Huffman table
	// the standard does not define (4 and 14), or one not present.
	errNoTable = errors.New("mp3: no such Huffman table")
)
