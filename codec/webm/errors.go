package webm

import "errors"

var (
	// ErrNotWebM is returned, wrapped with the detail, when the input does
	// not start with an EBML header whose DocType is "webm" or
	// "matroska", or has no Segment or Tracks before its first Cluster.
	ErrNotWebM = errors.New("webm: not a WebM or Matroska file")

	// ErrUnsupported is returned, wrapped with the detail, for a file the
	// demuxer recognises but does not pass through: a first audio track
	// that is not Opus (A_VORBIS, A_AAC, ...: its codec ID is named), no
	// audio track at all, a compressed or encrypted track, or an EBML or
	// Matroska version newer than it reads. Such input can be decoded by
	// a command source instead (pipeline.NewCommandSource running ffmpeg).
	ErrUnsupported = errors.New("webm: unsupported file")

	// ErrCorrupt is returned, wrapped with the element, its offset and
	// what was wrong (an invalid ID or size, a length over its bound, a
	// child overrunning its parent, bad lacing), for damaged input: every
	// packet before the damage has been returned.
	ErrCorrupt = errors.New("webm: corrupt file")

	// ErrNoCues is returned, wrapped, by ReadCues and Seek for a file
	// without Cues (a live recording, a file written to a pipe).
	ErrNoCues = errors.New("webm: no Cues in the file")
)
