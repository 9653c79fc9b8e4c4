package mp3

import (
	"encoding/binary"
	"strings"
	"unicode/utf16"
)

// An ID3v2 tag (id3.org, ID3v2.3.0 and ID3v2.4.0 structure):
//
//	"ID3" major minor flags size(4, syncsafe: 7 bits a byte)
//	[extended header] frames: id(4) size(4) flags(2) body   (v2.3, v2.4)
//	                          id(3) size(3) body            (v2.2)
//
// The size in v2.4 frame headers is syncsafe too. A text frame's body is
// an encoding byte (0 ISO-8859-1, 1 UTF-16 with BOM, 2 UTF-16BE, 3 UTF-8)
// and the text, perhaps NUL-terminated.

// id3Text returns the title and artist of an ID3v2 tag, as far as b (the
// tag from its header, perhaps only its first bytes) holds them. A tag it
// cannot read (unsynchronised, or damaged) gives nothing.
func id3Text(b []byte) (title, artist string) {
	if len(b) < 10 || string(b[:3]) != "ID3" {
		return "", ""
	}
	major, flags := b[3], b[5]
	if major < 2 || major > 4 || flags&0x80 != 0 {
		return "", "" // unknown version, or unsynchronised
	}
	size := int(b[6])<<21 | int(b[7])<<14 | int(b[8])<<7 | int(b[9])
	body := b[10:min(len(b), 10+size)]
	if flags&0x40 != 0 && major >= 3 && len(body) >= 4 { // extended header
		n := int(binary.BigEndian.Uint32(body))
		if major == 4 {
			n = int(body[0])<<21 | int(body[1])<<14 | int(body[2])<<7 | int(body[3])
		} else {
			n += 4
		}
		if n < 0 || n > len(body) {
			return "", ""
		}
		body = body[n:]
	}
	for len(body) > 0 && body[0] != 0 {
		var id string
		var n, hdr int
		switch {
		case major == 2 && len(body) >= 6:
			id, n, hdr = string(body[:3]), int(body[3])<<16|int(body[4])<<8|int(body[5]), 6
		case major > 2 && len(body) >= 10:
			id, hdr = string(body[:4]), 10
			if major == 4 {
				n = int(body[4])<<21 | int(body[5])<<14 | int(body[6])<<7 | int(body[7])
			} else {
				n = int(binary.BigEndian.Uint32(body[4:]))
			}
		default:
			return title, artist
		}
		if n < 0 || n > len(body)-hdr {
			return title, artist // runs past what we hold
		}
		text := body[hdr : hdr+n]
		switch id {
		case "TIT2", "TT2":
			title = id3String(text)
		case "TPE1", "TP1":
			artist = id3String(text)
		}
		body = body[hdr+n:]
	}
	return title, artist
}

// id3String decodes a text frame's body.
func id3String(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	enc, b := b[0], b[1:]
	var s string
	switch enc {
	case 0: // ISO-8859-1
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		s = string(r)
	case 1, 2: // UTF-16, with a BOM (1) or big-endian (2)
		be := enc == 2
		if len(b) >= 2 && enc == 1 {
			be = b[0] == 0xfe && b[1] == 0xff
			b = b[2:]
		}
		u := make([]uint16, len(b)/2)
		for i := range u {
			if be {
				u[i] = binary.BigEndian.Uint16(b[2*i:])
			} else {
				u[i] = binary.LittleEndian.Uint16(b[2*i:])
			}
		}
		s = string(utf16.Decode(u))
	default: // UTF-8
		s = strings.ToValidUTF8(string(b), "?")
	}
	s, _, _ = strings.Cut(s, "\x00") // the first of NUL-separated values
	return strings.TrimSpace(s)
}
