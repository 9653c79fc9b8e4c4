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
//	+------+---+-----------------+---------------------------------+---------+
//	| 0x1B | S | track (31 bits) | position in samples (int64, BE) | padding |
//	+------+---+-----------------+---------------------------------+---------+
//
// 0x1B is element 1, 12 bytes long; S, the top bit of the first word,
// marks a transition packet (opus.Packet's Seam: a seek's, a loop's, a
// resume's, or the join of two queued tracks, gapless or cross-faded),
// whose audio is faded or mixed across a jump and so is no one place of
// one track.
const (
	labelProfile = 0xBEDE
	labelID      = 1
	labelLen     = 12
	labelSeam    = 1 << 31
)

// label is what a packet's label says, once parsed: ok is false when it
// has none.
type label struct {
	track int
	pos   int64
	seam  bool
	ok    bool
}

// labelOf parses the label of a packet's extension body.
func labelOf(ext []byte) label { return parseLabel(ext) }

// appendLabel appends the label element for packet p of track (0 to
// 2³¹-1).
func appendLabel(dst []byte, track int, p opus.Packet) []byte {
	w := uint32(track) &^ labelSeam
	if p.Seam {
		w |= labelSeam
	}
	dst = append(dst, labelID<<4|(labelLen-1))
	dst = binary.BigEndian.AppendUint32(dst, w)
	return binary.BigEndian.AppendUint64(dst, uint64(p.Position))
}

// parseLabel finds the label element in an extension body of one-byte
// elements; it never panics, whatever ext holds.
func parseLabel(ext []byte) label {
	for i := 0; i < len(ext); {
		id, n := ext[i]>>4, int(ext[i]&0x0f)+1
		switch {
		case id == 0: // padding
			i++
			continue
		case id == 15: // the rest is reserved
			return label{}
		}
		if i+1+n > len(ext) {
			return label{}
		}
		if id == labelID && n == labelLen {
			b := ext[i+1:]
			w := binary.BigEndian.Uint32(b)
			return label{track: int(w &^ labelSeam), pos: int64(binary.BigEndian.Uint64(b[4:])), seam: w&labelSeam != 0, ok: true}
		}
		i += 1 + n
	}
	return label{}
}
