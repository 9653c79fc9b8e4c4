package ogg

import "errors"

var (
	// ErrBadPage is returned, wrapped with the detail, for a page with a
	// bad capture pattern, version, checksum or sequence, or packets that
	// do not join up across pages.
	ErrBadPage = errors.New("ogg: corrupt page")

	// ErrChained is returned, wrapped with the next stream's serial number
	// and offset, after the last packet of a logical stream that another
	// follows (a chained file): only the first link is read.
	ErrChained = errors.New("ogg: chained stream: another logical stream follows")

	// ErrNotOpus is returned, wrapped with the detail, when an Ogg stream
	// holds no Opus stream, or its OpusHead or OpusTags header is invalid.
	ErrNotOpus = errors.New("ogg: not an Ogg Opus stream")

	// ErrClosed is returned by writes after Close.
	ErrClosed = errors.New("ogg: writer closed")

	// ErrLength is returned, wrapped, by OpusWriter.Close when the length
	// set is longer than the packets written allow.
	ErrLength = errors.New("ogg: length longer than the packets written")
)
