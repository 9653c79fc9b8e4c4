package catcher

import "errors"

var (
	// ErrClosed is returned by reads and waits on a Catcher after Close, and
	// by a Reader after its own Close.
	ErrClosed = errors.New("catcher: closed")

	// ErrEvicted is returned, wrapped with the offsets involved, to a reader
	// of a windowed Catcher whose position has fallen out of the window. The
	// reader can resume from Catcher.Oldest.
	ErrEvicted = errors.New("catcher: offset evicted from the window")

	// ErrTooLong is returned to a reader that reaches the MaxBytes limit of a
	// source that goes on past it. The bytes before the limit stay readable.
	ErrTooLong = errors.New("catcher: stream longer than MaxBytes")

	// ErrNegativeOffset is returned by Seek, ReadAt, View and WaitFor for a
	// position before the start of the stream.
	ErrNegativeOffset = errors.New("catcher: negative offset")

	// ErrInvalidWhence is returned by Seek for a whence other than
	// io.SeekStart, io.SeekCurrent or io.SeekEnd.
	ErrInvalidWhence = errors.New("catcher: invalid whence")

	// ErrNotCached is returned by View for bytes that have yet to come.
	ErrNotCached = errors.New("catcher: bytes not cached yet")

	// ErrNotContiguous is returned, wrapped with the offsets, by View for a
	// range that crosses from one chunk of the cache into the next.
	ErrNotContiguous = errors.New("catcher: range crosses a chunk boundary")

	// ErrBadSource is returned, wrapped with the detail, when the source or a
	// transform breaks its contract: a count out of range, or a panic.
	ErrBadSource = errors.New("catcher: source broke its contract")
)
