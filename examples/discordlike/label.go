package main

import (
	"encoding/binary"

	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// Every packet a bot sends carries, in an RTP header extension (RFC 8285's
// one-byte form, profile 0xBEDE, as Discord's clients use for theirs), the
// track it is from and its position there, so that the server can check
// that what it hears is the audio expected at that place. The extension
// body is encrypted with the payload in the rtpsize modes.
//
//	0xBEDE | length 4 words
//	+------+--------------------+-------------------------------+---------+
//	| 0x1B | track (uint32, BE) | position in samples (int64, BE) | padding |
//	+------+--------------------+-------------------------------+---------+
//
// 0x1B is element 1, 12 bytes long.
const (
	labelProfile = 0xBEDE
	labelID      = 1
	labelLen     = 12
)

// label is what a packet's label says, once parsed: ok is false when it
// has none.
type label struct {
	track int
	pos   int64
	ok    bool
}

// labelOf parses the label of a packet's extension body.
func labelOf(ext []byte) label {
	track, pos, ok := parseLabel(ext)
	return label{track, pos, ok}
}

// appendLabel appends the label element for packet p of track.
func appendLabel(dst []byte, track int, p opus.Packet) []byte {
	dst = append(dst, labelID<<4|(labelLen-1))
	dst = binary.BigEndian.AppendUint32(dst, uint32(track))
	return binary.BigEndian.AppendUint64(dst, uint64(p.Position))
}

// parseLabel finds the label element in an extension body of one-byte
// elements; it never panics, whatever ext holds.
func parseLabel(ext []byte) (track int, pos int64, ok bool) {
	for i := 0; i < len(ext); {
		id, n := ext[i]>>4, int(ext[i]&0x0f)+1
		switch {
		case id == 0: // padding
			i++
			continue
		case id == 15: // the rest is reserved
			return 0, 0, false
		}
		if i+1+n > len(ext) {
			return 0, 0, false
		}
		if id == labelID && n == labelLen {
			b := ext[i+1:]
			return int(binary.BigEndian.Uint32(b)), int64(binary.BigEndian.Uint64(b[4:])), true
		}
		i += 1 + n
	}
	return 0, 0, false
}
