package codec

import "errors"

var (
	// ErrNotMP3 is returned, wrapped with the detail, when the input holds
	// no MPEG audio frame that this package can decode (no frame sync, or
	// only layers and versions go-mp3 does not support).
	ErrNotMP3 = errors.New("codec: not an MP3 stream")

	// ErrTruncated is returned, wrapped with the detail, when the input ends
	// before a header is complete or inside a frame, page or chunk. What was
	// whole before the cut has been decoded. An empty input is truncated
	// too.
	ErrTruncated = errors.New("codec: input truncated")

	// ErrCorrupt is returned, wrapped with the byte offsets of the damage,
	// at the end of an MP3 stream in which damaged regions were skipped:
	// every frame that could be decoded before and after them has been.
	ErrCorrupt = errors.New("codec: damaged data skipped")

	// ErrDecoderPanic is returned, wrapped with the panic value, when the
	// third-party MP3 decoder panicked on a frame. The decoder is dropped
	// and a new one continues after that frame; the error is reported
	// inside ErrCorrupt at the end of the stream.
	ErrDecoderPanic = errors.New("codec: decoder panicked on corrupt input")

	// ErrUnsupportedWAV is returned, wrapped with the detail, for a RIFF
	// WAVE file whose encoding is not 16- or 24-bit integer PCM or 32-bit
	// float, or whose format chunk is inconsistent.
	ErrUnsupportedWAV = errors.New("codec: unsupported WAV encoding")

	// ErrNotWAV is returned when the input does not start with a RIFF WAVE
	// header.
	ErrNotWAV = errors.New("codec: not a WAV file")

	// ErrNotOpus is returned, wrapped with the detail, when an Ogg stream
	// holds no Opus stream, or its OpusHead or OpusTags header is invalid.
	ErrNotOpus = errors.New("codec: not an Ogg Opus stream")

	// ErrBadPage is returned, wrapped with the detail, for an Ogg page with
	// a bad capture pattern, version, checksum or sequence, or packets
	// that do not join up across pages.
	ErrBadPage = errors.New("codec: corrupt Ogg page")

	// ErrCorruptPacket is returned, wrapped with the detail, for an Opus
	// packet that breaks the rules of RFC 6716 section 3 (or is larger than
	// MaxPacketSize), and for a framed packet stream whose length prefix is
	// out of range.
	ErrCorruptPacket = errors.New("codec: corrupt Opus packet")

	// ErrUnknownFormat is returned by Detect for input that is none of the
	// formats it knows.
	ErrUnknownFormat = errors.New("codec: unknown format")
)
