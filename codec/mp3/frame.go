package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// An MPEG audio frame header (ISO 11172-3, 13818-3), big-endian:
//
//	AAAAAAAA AAABBCCD EEEEFFGH IIJJKLMM
//	A sync (all ones)    B version (00 2.5, 10 MPEG-2, 11 MPEG-1)
//	C layer (01 III)     D no CRC      E bitrate index   F rate index
//	G padding            H private     I channel mode (11 mono)
//	J mode extension     K copyright   L original        M emphasis
//
// Only Layer III is walked (go-mp3 decodes nothing else); MPEG-2.5 frames
// are recognised so that they can be refused with a clear error.
type mp3Header struct {
	version  int // 1, 2, or 25 for MPEG-2.5
	crc      bool
	bitrate  int // bit/s
	rate     int // Hz
	padding  bool
	channels int
	size     int // frame size in bytes, header included
}

var (
	mp3BitratesV1 = [16]int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0}
	mp3BitratesV2 = [16]int{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0}
	mp3Rates      = map[int][3]int{1: {44100, 48000, 32000}, 2: {22050, 24000, 16000}, 25: {11025, 12000, 8000}}
)

// parseMP3Header parses 4 bytes as a Layer III frame header.
func parseMP3Header(b []byte) (mp3Header, bool) {
	if len(b) < 4 || b[0] != 0xff || b[1]&0xe0 != 0xe0 {
		return mp3Header{}, false
	}
	var h mp3Header
	switch (b[1] >> 3) & 3 {
	case 0:
		h.version = 25
	case 2:
		h.version = 2
	case 3:
		h.version = 1
	default:
		return h, false
	}
	if (b[1]>>1)&3 != 1 { // Layer III only
		return h, false
	}
	h.crc = b[1]&1 == 0
	bi, ri := int(b[2]>>4), int(b[2]>>2)&3
	if bi == 0 || bi == 15 || ri == 3 || b[3]&3 == 2 {
		return h, false // free format, bad bitrate, reserved rate or emphasis
	}
	if h.version == 1 {
		h.bitrate = mp3BitratesV1[bi] * 1000
	} else {
		h.bitrate = mp3BitratesV2[bi] * 1000
	}
	h.rate = mp3Rates[h.version][ri]
	h.padding = b[2]&2 != 0
	h.channels = 2
	if b[3]>>6 == 3 {
		h.channels = 1
	}
	pad := 0
	if h.padding {
		pad = 1
	}
	if h.version == 1 {
		h.size = 144*h.bitrate/h.rate + pad
	} else {
		h.size = 72*h.bitrate/h.rate + pad
	}
	return h, true
}

// samples is the number of samples per channel a frame decodes to.
func (h mp3Header) samples() int {
	if h.version == 1 {
		return 1152
	}
	return 576
}

// sideInfoSize is the size of the side information after the header (and
// CRC).
func (h mp3Header) sideInfoSize() int {
	switch {
	case h.version == 1 && h.channels == 1:
		return 17
	case h.version == 1:
		return 32
	case h.channels == 1:
		return 9
	default:
		return 17
	}
}

func (h mp3Header) sideInfoOffset() int {
	if h.crc {
		return 6
	}
	return 4
}

// mainDataBegin is how many bytes of main data the frame takes from
// earlier frames (the bit reservoir): 9 bits (MPEG-1) or 8 bits after the
// header.
func (h mp3Header) mainDataBegin(frame []byte) int {
	o := h.sideInfoOffset()
	if len(frame) < o+2 {
		return 0
	}
	if h.version == 1 {
		return int(frame[o])<<1 | int(frame[o+1]>>7)
	}
	return int(frame[o])
}

// mainDataSize is the number of main data bytes the frame itself carries.
func (h mp3Header) mainDataSize() int {
	return max(0, h.size-h.sideInfoOffset()-h.sideInfoSize())
}

// sameStream reports whether h can follow first in one stream.
func (h mp3Header) sameStream(first mp3Header) bool {
	return h.version == first.version && h.rate == first.rate
}

// xingInfo is what the first frame of a LAME (or ffmpeg) file says about
// the stream: the Xing or Info header and the LAME tag.
type xingInfo struct {
	frames   int64 // audio frames after this one, or -1
	delay    int   // encoder delay in samples, or -1 without a LAME tag
	padding  int   // padding in samples at the end, or -1
	vbr      bool  // "Xing" (VBR) rather than "Info" (CBR)
	encoder  string
	vbriOnly bool // a Fraunhofer VBRI header: not audio, no delay known
}

// parseXing looks for a Xing, Info or VBRI header in a frame.
func parseXing(h mp3Header, frame []byte) (xingInfo, bool) {
	x := xingInfo{frames: -1, delay: -1, padding: -1}
	o := h.sideInfoOffset() + h.sideInfoSize()
	if len(frame) >= 36+18 && string(frame[36:40]) == "VBRI" {
		x.vbriOnly = true
		x.frames = int64(binary.BigEndian.Uint32(frame[36+14:]))
		return x, true
	}
	if len(frame) < o+8 {
		return x, false
	}
	switch string(frame[o : o+4]) {
	case "Xing":
		x.vbr = true
	case "Info":
	default:
		return x, false
	}
	flags := binary.BigEndian.Uint32(frame[o+4:])
	p := o + 8
	if flags&1 != 0 {
		if len(frame) < p+4 {
			return x, true
		}
		x.frames = int64(binary.BigEndian.Uint32(frame[p:]))
		p += 4
	}
	if flags&2 != 0 {
		p += 4
	}
	if flags&4 != 0 {
		p += 100
	}
	if flags&8 != 0 {
		p += 4
	}
	// The LAME tag: a 9-byte encoder string, then (at +21) 12 bits of
	// encoder delay and 12 bits of padding.
	if len(frame) < p+24 {
		return x, true
	}
	enc := string(frame[p : p+9])
	if enc[:4] != "LAME" && enc[:4] != "Lavc" && enc[:4] != "Lavf" && enc[:4] != "L3.9" {
		return x, true
	}
	x.encoder = enc
	d := frame[p+21:]
	x.delay = int(d[0])<<4 | int(d[1])>>4
	x.padding = int(d[1]&0x0f)<<8 | int(d[2])
	return x, true
}

// mp3Walker finds the frames of an MPEG audio stream in a byte stream: it
// skips ID3v2 tags, checks that each frame is followed by another of the
// same stream (or by a tag, or the end), and resynchronises after damage.
type mp3Walker struct {
	src     io.Reader
	buf     []byte
	r, w    int
	off     int64 // stream offset of buf[r]
	eof     bool
	err     error // read error other than io.EOF
	first   mp3Header
	started bool // a frame has been accepted; first is set
}

const (
	mp3BufSize  = 32 << 10
	mp3MaxJunk  = 256 << 10 // junk before the first frame before giving up
	mp3MaxFrame = 1441      // largest Layer III frame
)

// fill makes n bytes available at buf[r:] if the stream has them.
func (m *mp3Walker) fill(n int) bool {
	if m.w-m.r >= n {
		return true
	}
	if m.buf == nil {
		m.buf = make([]byte, mp3BufSize)
	}
	if m.r > 0 {
		copy(m.buf, m.buf[m.r:m.w])
		m.w -= m.r
		m.r = 0
	}
	for m.w < n && !m.eof && m.err == nil {
		k, err := m.src.Read(m.buf[m.w:])
		if k < 0 || k > len(m.buf)-m.w {
			m.err = fmt.Errorf("codec: %T.Read returned %d", m.src, k)
			break
		}
		m.w += k
		if err == io.EOF {
			m.eof = true
		} else if err != nil {
			m.err = err
		}
	}
	return m.w-m.r >= n
}

func (m *mp3Walker) advance(n int) {
	m.r += n
	m.off += int64(n)
}

// skip discards n bytes; it reports whether they were all there.
func (m *mp3Walker) skip(n int64) bool {
	for n > 0 {
		if !m.fill(1) {
			return false
		}
		k := int(min(n, int64(m.w-m.r)))
		m.advance(k)
		n -= int64(k)
	}
	return true
}

// tagAt reports the size of a tag (ID3v2, ID3v1, APE) at buf[r:], or 0.
func (m *mp3Walker) tagAt() int64 {
	m.fill(32)
	return tagSize(m.buf[m.r:m.w])
}

// tagSize reports the size of a tag at the start of b, or 0.
func tagSize(b []byte) int64 {
	switch {
	case len(b) >= 10 && string(b[:3]) == "ID3" && b[6]|b[7]|b[8]|b[9] < 0x80:
		size := int64(b[6])<<21 | int64(b[7])<<14 | int64(b[8])<<7 | int64(b[9])
		size += 10
		if b[5]&0x10 != 0 {
			size += 10 // footer
		}
		return size
	case len(b) >= 3 && string(b[:3]) == "TAG":
		return 128
	case len(b) >= 32 && string(b[:8]) == "APETAGEX":
		size := int64(binary.LittleEndian.Uint32(b[12:]))
		if binary.LittleEndian.Uint32(b[20:])&(1<<29) != 0 {
			size += 32 // a header: the size excludes it
		}
		return max(size, 32)
	}
	return 0
}

// mp3Frame is a frame found by the walker.
type mp3Frame struct {
	h    mp3Header
	data []byte // valid until the next call to next
	off  int64
}

var errMP3Unsupported = errors.New("unsupported MPEG version")

// next returns the next frame, and the bytes of damage skipped before it
// (junk that was neither frames nor tags). At the end it returns io.EOF,
// or ErrTruncated (wrapped) when the stream ends inside a frame.
func (m *mp3Walker) next() (f mp3Frame, junk int64, junkAt int64, err error) {
	for {
		if m.err != nil {
			return f, junk, junkAt, m.err
		}
		if !m.fill(4) {
			if m.err != nil {
				continue
			}
			if m.w-m.r > 0 && junk == 0 {
				junkAt = m.off
			}
			junk += int64(m.w - m.r)
			m.advance(m.w - m.r)
			return f, junk, junkAt, io.EOF
		}
		if size := m.tagAt(); size > 0 && (m.started || junk == 0) {
			if !m.skip(size) {
				return f, junk, junkAt, io.EOF // a tag cut short at the end
			}
			continue
		}
		h, ok := parseMP3Header(m.buf[m.r : m.r+4])
		if ok && (!m.started || h.sameStream(m.first)) {
			if m.fill(h.size + 4) {
				h2, ok2 := parseMP3Header(m.buf[m.r+h.size : m.r+h.size+4])
				if ok2 && h2.sameStream(h) {
					return m.accept(h), junk, junkAt, nil
				}
				if m.started {
					m.fill(h.size + 32)
					if tagSize(m.buf[m.r+h.size:m.w]) > 0 {
						return m.accept(h), junk, junkAt, nil
					}
				}
			} else if m.err == nil {
				avail := m.w - m.r
				switch {
				case avail >= h.size && (m.started || avail == h.size):
					// The last frame, perhaps with fewer than 4 bytes
					// after it.
					return m.accept(h), junk, junkAt, nil
				case m.started && junk == 0:
					// A frame of our stream cut by the end of input.
					m.advance(avail)
					return f, 0, 0, fmt.Errorf("%w: the input ends %d bytes into a %d-byte frame at offset %d", ErrTruncated, avail, h.size, m.off-int64(avail))
				}
			}
		}
		if junk == 0 {
			junkAt = m.off
		}
		junk++
		m.advance(1)
		if !m.started && junk > mp3MaxJunk {
			return f, junk, junkAt, fmt.Errorf("%w: no frame in the first %d bytes", ErrNotMP3, mp3MaxJunk)
		}
	}
}

func (m *mp3Walker) accept(h mp3Header) mp3Frame {
	if !m.started {
		m.first, m.started = h, true
	}
	f := mp3Frame{h: h, data: m.buf[m.r : m.r+h.size], off: m.off}
	m.advance(h.size)
	return f
}
