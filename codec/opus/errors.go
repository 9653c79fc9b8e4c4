package opus

import "errors"

// ErrCorruptPacket is returned, wrapped with the detail, for an Opus packet
// that breaks the rules of RFC 6716 section 3, or is larger than
// MaxPacketSize.
var ErrCorruptPacket = errors.New("opus: corrupt packet")

// Errors of a packet source (a pipeline.Player gives them), defined here so
// that senders without cgo recognise them.
var (
	// ErrUnderrun is returned by a source whose next packet is not ready
	// yet: send nothing this time and ask again at the next deadline.
	ErrUnderrun = errors.New("opus: next packet not ready yet")
	// ErrPaused is returned by a paused source, once it has given its
	// silence frames.
	ErrPaused = errors.New("opus: source paused")
	// ErrSlowListener ends a listener of a live source that fell too far
	// behind it (a pipeline.Broadcast's buffered listener).
	ErrSlowListener = errors.New("opus: listener too slow for the live source")
)
