package opus

import "errors"

// ErrCorruptPacket is returned, wrapped with the detail, for an Opus packet
// that breaks the rules of RFC 6716 section 3, or is larger than
// MaxPacketSize.
var ErrCorruptPacket = errors.New("opus: corrupt packet")
