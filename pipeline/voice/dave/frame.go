package dave

import (
	"bytes"
	"fmt"
	"time"
)

// The layout of an encrypted frame (protocol whitepaper, "Payload
// Format"), last byte at the right:
//
//	+--------------------+---------+-----------+-----------+---------+------+
//	| frame (ciphertext, | tag     | nonce     | ranges    | supp.   | 0xFA |
//	| ranges interleaved | 8 bytes | ULEB128   | ULEB128   | size    | 0xFA |
//	| in the clear)      |         | 1-5 bytes | pairs     | 1 byte  |      |
//	+--------------------+---------+-----------+-----------+---------+------+
//	                     |<------------- supplemental size ----------------->|
//
// The unencrypted ranges are (offset, size) pairs into the frame, whose
// bytes are the AES-GCM additional data; an Opus frame has none and is
// encrypted whole with empty additional data. The AES-128-GCM IV is 8 zero
// bytes followed by the nonce as a little-endian uint32; the nonce's top 8
// bits are the low 8 bits of the key generation.
const (
	// TagSize is the size of the truncated AES-GCM tag a frame carries.
	TagSize = 8
	// MinSupplementalSize is the smallest supplemental section: the tag,
	// the size byte and the marker (a nonce needs one byte more).
	MinSupplementalSize = TagSize + 1 + 2
	// MaxOverhead is the most that encryption adds to an Opus frame: the
	// tag, a nonce of up to 5 bytes, the size byte and the marker.
	MaxOverhead = TagSize + maxNonceSize + 1 + 2
	// maxNonceSize is the size of the largest 32-bit nonce in ULEB128.
	maxNonceSize = 5
	// gcmTagSize is the size of the full AES-GCM tag, of which the frame
	// keeps the first TagSize bytes.
	gcmTagSize = 16
	// generationShift places the low 8 bits of the key generation at the
	// top of the 32-bit nonce.
	generationShift = 24
	// generationWrap is the number of generations the nonce can tell
	// apart.
	generationWrap = 1 << (32 - generationShift)
)

// Limits a Decryptor enforces (libdave's common.h).
const (
	// MaxGenerationGap is how many generations past the newest one
	// decrypted a frame may be.
	MaxGenerationGap = 250
	// MaxMissingNonces is how many nonces missing before the newest one a
	// Decryptor remembers, so that late frames still decrypt once.
	MaxMissingNonces = 1000
	// MaxFramesPerSecond bounds the frames a sender can have sent since its
	// ratchet began, which bounds the generation a frame may claim: 50
	// audio frames and two 60 fps video streams.
	MaxFramesPerSecond = 50 + 2*60
	// KeyExpiry is how long keys are kept after being superseded: the old
	// generations of a ratchet, and a whole ratchet after a transition
	// (the usual argument of TransitionToKeyRatchet).
	KeyExpiry = 10 * time.Second
)

// marker ends every encrypted frame.
var marker = [2]byte{0xFA, 0xFA}

// silence is Opus's silence frame, sent and received in the clear.
var silence = [3]byte{0xF8, 0xFF, 0xFE}

// isSilence reports whether b is the Opus silence frame.
func isSilence(b []byte) bool { return bytes.Equal(b, silence[:]) }

// appendULEB128 appends v as an unsigned LEB128: 7 bits a byte, least
// significant first, the top bit set on every byte but the last.
func appendULEB128(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

// ulebSize is the size of v in ULEB128.
func ulebSize(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// readULEB128 reads one unsigned LEB128 of at most bits bits (bits ≤ 64)
// from the start of b, and returns it and its size. It refuses an
// encoding that runs past b, is not minimal (a last byte of 0 after
// others), or holds more than bits bits.
func readULEB128(b []byte, bits uint) (v uint64, n int, err error) {
	var shift uint
	for i, c := range b {
		if shift >= bits || (bits-shift < 7 && uint64(c&0x7f)>>(bits-shift) != 0) {
			return 0, 0, fmt.Errorf("%w: ULEB128 over %d bits", ErrFrameMalformed, bits)
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if c == 0 && i > 0 {
				return 0, 0, fmt.Errorf("%w: ULEB128 not minimal", ErrFrameMalformed)
			}
			return v, i + 1, nil
		}
		shift += 7
	}
	return 0, 0, fmt.Errorf("%w: ULEB128 runs past its field", ErrFrameMalformed)
}

// frame is an encrypted frame split into its parts; the slices alias the
// received bytes.
type frame struct {
	// body is the frame before the supplemental bytes: the ciphertext
	// with the unencrypted ranges interleaved.
	body []byte
	// tag is the truncated tag, TagSize bytes.
	tag []byte
	// nonce is the 32-bit truncated nonce.
	nonce uint32
	// ranges is the encoded unencrypted ranges, checked by parseFrame;
	// empty for Opus.
	ranges []byte
}

// parseFrame splits b into its parts, making the protocol's frame check:
// at least MinSupplementalSize bytes, the marker at the end, a
// supplemental size that is at least MinSupplementalSize and at most the
// frame, a nonce that parses, and unencrypted ranges that parse and are
// ascending, disjoint and within the frame. Whatever b holds, it returns
// an error wrapping ErrFrameNotEncrypted, ErrFrameTruncated or
// ErrFrameMalformed, or a frame; it never panics and allocates nothing on
// success.
func parseFrame(b []byte) (frame, error) {
	if len(b) < MinSupplementalSize {
		if len(b) >= 2 && [2]byte(b[len(b)-2:]) == marker {
			return frame{}, fmt.Errorf("%w: %d bytes", ErrFrameTruncated, len(b))
		}
		return frame{}, ErrFrameNotEncrypted
	}
	if [2]byte(b[len(b)-2:]) != marker {
		return frame{}, ErrFrameNotEncrypted
	}
	supp := int(b[len(b)-3])
	if supp < MinSupplementalSize || supp > len(b) {
		return frame{}, fmt.Errorf("%w: supplemental size %d in a frame of %d bytes", ErrFrameTruncated, supp, len(b))
	}
	f := frame{body: b[:len(b)-supp], tag: b[len(b)-supp : len(b)-supp+TagSize]}
	rest := b[len(b)-supp+TagSize : len(b)-3]
	nonce, n, err := readULEB128(rest, 32)
	if err != nil {
		return frame{}, fmt.Errorf("nonce: %w", err)
	}
	f.nonce = uint32(nonce)
	f.ranges = rest[n:]
	if err := checkRanges(f.ranges, len(f.body)); err != nil {
		return frame{}, err
	}
	return f, nil
}

// forRanges calls fn for each (offset, size) pair of the encoded ranges
// in order, and stops at the first error of decoding or of fn.
func forRanges(ranges []byte, fn func(offset, size int) error) error {
	for len(ranges) > 0 {
		off, n, err := readULEB128(ranges, 32)
		if err != nil {
			return fmt.Errorf("range offset: %w", err)
		}
		ranges = ranges[n:]
		size, n, err := readULEB128(ranges, 32)
		if err != nil {
			return fmt.Errorf("range size: %w", err)
		}
		ranges = ranges[n:]
		if err := fn(int(off), int(size)); err != nil {
			return err
		}
	}
	return nil
}

// checkRanges checks that the encoded ranges parse and are ascending,
// disjoint and within a frame body of size bytes.
func checkRanges(ranges []byte, size int) error {
	end := 0
	return forRanges(ranges, func(off, n int) error {
		// off and n are below 2^32: on a 64-bit machine off+n cannot
		// overflow; on a 32-bit one a value over 2^31 turns negative,
		// which the first two comparisons refuse.
		if off < end || n < 0 || off > size || n > size-off {
			return fmt.Errorf("%w: unencrypted range (%d, %d) out of order or past the frame's %d bytes", ErrFrameMalformed, off, n, size)
		}
		end = off + n
		return nil
	})
}
