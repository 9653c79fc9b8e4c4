package opus

import "fmt"

// Limits of an Opus packet (RFC 6716, section 3).
const (
	// MaxFrameSize is the largest compressed frame, in bytes.
	MaxFrameSize = 1275

	// MaxFrames is the largest number of frames in one packet (code 3 with
	// 2.5 ms frames: 120 ms).
	MaxFrames = 48

	// MaxPacketSamples is the longest packet, 120 ms, in samples at 48 kHz.
	MaxPacketSamples = 5760

	// MaxPacketSize bounds a packet this package accepts: 48 frames of
	// 1275 bytes with a code 3 header and 47 two-byte frame lengths, the
	// largest packet without padding. Larger packets (legal only with
	// heavy padding, which no encoder emits) are rejected with
	// ErrCorruptPacket.
	MaxPacketSize = 2 + 2*(MaxFrames-1) + MaxFrames*MaxFrameSize
)

// Mode is an Opus coding mode.
type Mode uint8

// The coding modes of RFC 6716, section 3.1.
const (
	ModeSILK Mode = iota
	ModeHybrid
	ModeCELT
)

func (m Mode) String() string {
	switch m {
	case ModeSILK:
		return "SILK"
	case ModeHybrid:
		return "Hybrid"
	case ModeCELT:
		return "CELT"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Bandwidth is an Opus audio bandwidth.
type Bandwidth uint8

// The bandwidths of RFC 6716, section 2.
const (
	Narrowband    Bandwidth = iota // 4 kHz
	Mediumband                     // 6 kHz
	Wideband                       // 8 kHz
	SuperWideband                  // 12 kHz
	Fullband                       // 20 kHz
)

func (b Bandwidth) String() string {
	switch b {
	case Narrowband:
		return "NB"
	case Mediumband:
		return "MB"
	case Wideband:
		return "WB"
	case SuperWideband:
		return "SWB"
	case Fullband:
		return "FB"
	}
	return fmt.Sprintf("Bandwidth(%d)", uint8(b))
}

// TOC is the table-of-contents byte that starts every Opus packet:
//
//	 0 1 2 3 4 5 6 7
//	+-+-+-+-+-+-+-+-+
//	| config  |s| c |
//	+-+-+-+-+-+-+-+-+
//
// config selects mode, bandwidth and frame duration; s is stereo; c is the
// frame-count code (0: one frame; 1: two of equal size; 2: two of
// different sizes; 3: an arbitrary number).
type TOC byte

// Config is the 5-bit configuration number, 0 to 31.
func (t TOC) Config() int { return int(t >> 3) }

// Stereo reports whether the packet codes two channels.
func (t TOC) Stereo() bool { return t&0x04 != 0 }

// Code is the frame-count code, 0 to 3.
func (t TOC) Code() int { return int(t & 0x03) }

// Mode is the coding mode the configuration selects.
func (t TOC) Mode() Mode {
	switch c := t.Config(); {
	case c < 12:
		return ModeSILK
	case c < 16:
		return ModeHybrid
	default:
		return ModeCELT
	}
}

// Bandwidth is the audio bandwidth the configuration selects.
func (t TOC) Bandwidth() Bandwidth {
	switch c := t.Config(); {
	case c < 12:
		return Bandwidth(c / 4) // NB, MB, WB
	case c < 16:
		return SuperWideband + Bandwidth((c-12)/2)
	default:
		switch b := (c - 16) / 4; b {
		case 0:
			return Narrowband
		default:
			return Bandwidth(b + 1) // WB, SWB, FB
		}
	}
}

// FrameSamples is the duration of each frame of the packet in samples at
// 48 kHz: 120 (2.5 ms), 240, 480, 960, 1920 or 2880 (60 ms).
func (t TOC) FrameSamples() int64 {
	switch c := t.Config(); {
	case c < 12:
		return [4]int64{480, 960, 1920, 2880}[c%4]
	case c < 16:
		return [2]int64{480, 960}[c%2]
	default:
		return [4]int64{120, 240, 480, 960}[c%4]
	}
}

// PacketInfo describes one Opus packet, as ParsePacket finds it.
type PacketInfo struct {
	TOC     TOC
	Frames  int               // number of frames, 1 to 48
	Sizes   [MaxFrames]uint16 // Sizes[:Frames] are the compressed frame sizes in bytes
	Padding int               // bytes of padding (code 3 only)
	Samples int64             // duration in samples at 48 kHz: Frames * TOC.FrameSamples()
}

// ParsePacket parses and validates the framing of an Opus packet (RFC 6716,
// section 3.2, rules R1 to R7), without decoding it. Errors wrap
// ErrCorruptPacket. It does not allocate.
func ParsePacket(p []byte) (PacketInfo, error) {
	var pi PacketInfo
	if len(p) == 0 {
		return pi, fmt.Errorf("%w: empty packet", ErrCorruptPacket)
	}
	if len(p) > MaxPacketSize {
		return pi, fmt.Errorf("%w: %d bytes, more than %d", ErrCorruptPacket, len(p), MaxPacketSize)
	}
	pi.TOC = TOC(p[0])
	rest := p[1:]
	switch pi.TOC.Code() {
	case 0:
		pi.Frames = 1
		pi.Sizes[0] = uint16(min(len(rest), 0xffff))
	case 1:
		if len(rest)%2 != 0 {
			return pi, fmt.Errorf("%w: code 1 with odd payload %d", ErrCorruptPacket, len(rest))
		}
		pi.Frames = 2
		pi.Sizes[0], pi.Sizes[1] = uint16(len(rest)/2), uint16(len(rest)/2)
	case 2:
		n, k, err := frameLength(rest)
		if err != nil {
			return pi, err
		}
		rest = rest[k:]
		if n > len(rest) {
			return pi, fmt.Errorf("%w: code 2 first frame %d bytes, %d left", ErrCorruptPacket, n, len(rest))
		}
		pi.Frames = 2
		pi.Sizes[0], pi.Sizes[1] = uint16(n), uint16(len(rest)-n)
	case 3:
		if len(rest) < 1 {
			return pi, fmt.Errorf("%w: code 3 without frame count", ErrCorruptPacket)
		}
		fc := rest[0]
		rest = rest[1:]
		vbr, padded, m := fc&0x80 != 0, fc&0x40 != 0, int(fc&0x3f)
		if m == 0 {
			return pi, fmt.Errorf("%w: code 3 with 0 frames", ErrCorruptPacket)
		}
		if int64(m)*pi.TOC.FrameSamples() > MaxPacketSamples {
			return pi, fmt.Errorf("%w: %d frames of %d samples exceed 120 ms", ErrCorruptPacket, m, pi.TOC.FrameSamples())
		}
		if padded {
			for {
				if len(rest) == 0 {
					return pi, fmt.Errorf("%w: padding length runs off the end", ErrCorruptPacket)
				}
				b := int(rest[0])
				rest = rest[1:]
				if b == 255 {
					pi.Padding += 254
					continue
				}
				pi.Padding += b
				break
			}
			if pi.Padding > len(rest) {
				return pi, fmt.Errorf("%w: %d bytes of padding, %d left", ErrCorruptPacket, pi.Padding, len(rest))
			}
			rest = rest[:len(rest)-pi.Padding]
		}
		pi.Frames = m
		if vbr {
			total := 0
			for i := 0; i < m-1; i++ {
				n, k, err := frameLength(rest)
				if err != nil {
					return pi, err
				}
				rest = rest[k:]
				pi.Sizes[i] = uint16(n)
				total += n
			}
			if total > len(rest) {
				return pi, fmt.Errorf("%w: frames of %d bytes, %d left", ErrCorruptPacket, total, len(rest))
			}
			pi.Sizes[m-1] = uint16(len(rest) - total)
		} else {
			if len(rest)%m != 0 {
				return pi, fmt.Errorf("%w: CBR payload %d not a multiple of %d frames", ErrCorruptPacket, len(rest), m)
			}
			for i := range m {
				pi.Sizes[i] = uint16(len(rest) / m)
			}
		}
	}
	for i := range pi.Frames {
		if pi.Sizes[i] > MaxFrameSize {
			return pi, fmt.Errorf("%w: frame %d is %d bytes, more than %d", ErrCorruptPacket, i, pi.Sizes[i], MaxFrameSize)
		}
	}
	pi.Samples = int64(pi.Frames) * pi.TOC.FrameSamples()
	return pi, nil
}

// frameLength decodes a 1- or 2-byte frame length (RFC 6716, 3.2.1): the
// length and the bytes it took.
func frameLength(b []byte) (n, k int, err error) {
	if len(b) < 1 {
		return 0, 0, fmt.Errorf("%w: frame length runs off the end", ErrCorruptPacket)
	}
	if b[0] < 252 {
		return int(b[0]), 1, nil
	}
	if len(b) < 2 {
		return 0, 0, fmt.Errorf("%w: two-byte frame length runs off the end", ErrCorruptPacket)
	}
	return 4*int(b[1]) + int(b[0]), 2, nil
}

// PacketSamples returns the duration of an Opus packet in samples at
// 48 kHz, validating its framing as ParsePacket does.
func PacketSamples(p []byte) (int64, error) {
	pi, err := ParsePacket(p)
	return pi.Samples, err
}
