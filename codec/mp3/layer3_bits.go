package mp3

import "encoding/binary"

// bitReader reads big-endian bit fields from b, as the side information
// and the main data are coded. A read past the end of b gives zero bits
// (and moves pos on), so that a damaged frame is read to its end without
// a check per field; the caller compares pos with the bits it expected.
type bitReader struct {
	b   []byte
	pos int // in bits from the start of b
}

// peek32 returns the 32 bits at pos, left-aligned, zeros past the end.
func (r *bitReader) peek32() uint32 {
	i := r.pos >> 3
	var v uint32
	if i+4 <= len(r.b) {
		v = binary.BigEndian.Uint32(r.b[i:])
	} else {
		for k := range 4 {
			v <<= 8
			if i+k < len(r.b) {
				v |= uint32(r.b[i+k])
			}
		}
	}
	return v << uint(r.pos&7)
}

// read returns the next n bits (0 <= n <= 24).
func (r *bitReader) read(n int) int {
	if n == 0 {
		return 0
	}
	v := r.peek32() >> uint(32-n)
	r.pos += n
	return int(v)
}

// flag reads one bit as a bool.
func (r *bitReader) flag() bool { return r.read(1) != 0 }
