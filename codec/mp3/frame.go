package mp3

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/streamcatcher/streamcatcher/internal/id3"
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
type header struct {
	version  int // 1, 2, or 25 for MPEG-2.5
	crc      bool
	bitrate  int // bit/s
	rate     int // Hz
	padding  bool
	channels int
	size     int // frame size in bytes, header included
}

var (
	bitratesV1 = [16]int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0}
	bitratesV2 = [16]int{0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0}
	rates      = map[int][3]int{1: {44100, 48000, 32000}, 2: {22050, 24000, 16000}, 25: {11025, 12000, 8000}}
)

// parseHeader parses 4 bytes as a Layer III frame header.
func parseHeader(b []byte) (header, bool) {
	if len(b) < 4 || b[0] != 0xff || b[1]&0xe0 != 0xe0 {
		return header{}, false
	}
	var h header
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
		h.bitrate = bitratesV1[bi] * 1000
	} else {
		h.bitrate = bitratesV2[bi] * 1000
	}
	h.rate = rates[h.version][ri]
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
func (h header) samples() int {
	if h.version == 1 {
		return 1152
	}
	return 576
}

// goMP3Size is the size go-mp3 gives the frame: for MPEG-2 it halves
// 144·bitrate/rate + padding, which is one byte short of
// 72·bitrate/rate + padding for some bitrates and rates.
func (h header) goMP3Size() int {
	pad := 0
	if h.padding {
		pad = 1
	}
	if h.version == 1 {
		return 144*h.bitrate/h.rate + pad
	}
	return (144*h.bitrate/h.rate + pad) >> 1
}

// misSizedWhenPadded reports whether go-mp3 mis-sizes this stream's frames
// of h's bitrate and rate that carry the padding bit.
func (h header) misSizedWhenPadded() bool {
	p := h
	p.padding = true
	p.size = 72*h.bitrate/h.rate + 1
	return h.version != 1 && p.goMP3Size() != p.size
}

// padsSometimes reports whether frames of h's bitrate and rate need the
// padding bit now and then (their exact size is not a whole number of
// bytes).
func (h header) padsSometimes() bool {
	if h.version == 1 {
		return 144*h.bitrate%h.rate != 0
	}
	return 72*h.bitrate%h.rate != 0
}

// sideInfoSize is the size of the side information after the header (and
// CRC).
func (h header) sideInfoSize() int {
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

func (h header) sideInfoOffset() int {
	if h.crc {
		return 6
	}
	return 4
}

// mainDataBegin is how many bytes of main data the frame takes from
// earlier frames (the bit reservoir): 9 bits (MPEG-1) or 8 bits after the
// header.
func (h header) mainDataBegin(frame []byte) int {
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
func (h header) mainDataSize() int {
	return max(0, h.size-h.sideInfoOffset()-h.sideInfoSize())
}

// sameStream reports whether h can follow first in one stream.
func (h header) sameStream(first header) bool {
	return h.version == first.version && h.rate == first.rate
}

// xingInfo is what the first frame of a LAME (or ffmpeg) file says about
// the stream: the Xing or Info header and the LAME tag.
type xingInfo struct {
	frames   int64 // audio frames after this one, or -1
	delay    int64 // encoder delay in samples, or -1 without a LAME tag
	padding  int64 // padding in samples at the end, or -1
	vbr      bool  // "Xing" (VBR) rather than "Info" (CBR)
	encoder  string
	vbriOnly bool // a Fraunhofer VBRI header: not audio, no delay known
}

// parseXing looks for a Xing, Info or VBRI header in a frame. The Xing
// header starts right after the side information, counted from the end of
// the 4-byte header whether or not the frame has a CRC (as LAME writes it
// and ffmpeg reads it: the CRC's 2 bytes are not added).
func parseXing(h header, frame []byte) (xingInfo, bool) {
	x := xingInfo{frames: -1, delay: -1, padding: -1}
	o := 4 + h.sideInfoSize()
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
		if n := int64(binary.BigEndian.Uint32(frame[p:])); n > 0 {
			x.frames = n // 0, as some streaming encoders write, is unknown
		}
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
	x.delay = int64(d[0])<<4 | int64(d[1])>>4
	x.padding = int64(d[1]&0x0f)<<8 | int64(d[2])
	return x, true
}

// walker finds the frames of an MPEG audio stream in a byte stream: it
// skips tags, checks that a frame met after damage is followed by another
// of the same stream, and resynchronises after damage.
type walker struct {
	title   string // of the ID3v2 tag before the first frame
	artist  string
	src     io.Reader
	buf     []byte
	r, w    int
	off     int64 // stream offset of buf[r]
	eof     bool
	err     error // read error other than io.EOF
	first   header
	started bool // a frame has been accepted; first is set
}

const (
	bufSize  = 32 << 10
	maxJunk  = 256 << 10 // junk before the first frame before giving up
	maxFrame = 1441      // largest Layer III frame
)

// fill makes n bytes available at buf[r:] if the stream has them.
func (m *walker) fill(n int) bool {
	if m.w-m.r >= n {
		return true
	}
	if m.buf == nil {
		m.buf = make([]byte, bufSize)
	}
	if m.r > 0 {
		copy(m.buf, m.buf[m.r:m.w])
		m.w -= m.r
		m.r = 0
	}
	for m.w < n && !m.eof && m.err == nil {
		k, err := m.src.Read(m.buf[m.w:])
		if k < 0 || k > len(m.buf)-m.w {
			m.err = fmt.Errorf("mp3: %T.Read returned %d", m.src, k)
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

func (m *walker) advance(n int) {
	m.r += n
	m.off += int64(n)
}

// skip discards n bytes; it reports whether they were all there.
func (m *walker) skip(n int64) bool {
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

// tag kinds
const (
	noTag = iota
	id3v2Tag
	id3v1Tag
	apeHeader
	apeFooter
)

// tagAt reports the kind and size of a tag at buf[r:].
func (m *walker) tagAt() (int, int64) {
	m.fill(32)
	return tagSize(m.buf[m.r:m.w])
}

// tagSize reports the kind and size of a tag (ID3v2, ID3v1, APE) at the
// start of b. For an APE footer the size is that of its items and the
// footer, which end where the footer does.
func tagSize(b []byte) (int, int64) {
	if size, ok := id3.TagSize(b); ok {
		return id3v2Tag, size
	}
	switch {
	case len(b) >= 3 && string(b[:3]) == "TAG":
		return id3v1Tag, 128
	case len(b) >= 32 && string(b[:8]) == "APETAGEX":
		size := int64(binary.LittleEndian.Uint32(b[12:])) // items and footer
		if binary.LittleEndian.Uint32(b[20:])&(1<<29) != 0 {
			return apeHeader, size + 32 // the header, the items, the footer
		}
		return apeFooter, max(size, 32)
	}
	return noTag, 0
}

// frame is a frame found by the walker.
type frame struct {
	h    header
	data []byte // valid until the next call to next
	off  int64
}

// next returns the next frame, and the bytes of damage skipped before it
// (junk that was neither frames nor tags, nor zeros at the very end or
// before a tag). At the end it returns io.EOF, or an error wrapping
// io.ErrUnexpectedEOF when the stream ends inside a frame or a tag.
//
// A frame met after junk (or the first) must be followed by another of the
// stream, or a tag, or the end: that is how the walker resynchronises
// after damage without taking noise for a frame. A frame that starts where
// the one before it (or a tag after it) ended needs less: it is kept if it
// is followed by zeros, or by damage in which no chain of frames starts
// inside its own span (else it was cut short, by a splice or a lost
// block, and the frames after it are the ones to keep).
func (m *walker) next() (f frame, junk int64, junkAt int64, err error) {
	firstNZ := int64(-1) // offset of the first non-zero byte of the junk, or -1
	note := func(b byte) {
		if junk == 0 {
			junkAt = m.off
		}
		if b != 0 && firstNZ < 0 {
			firstNZ = m.off
		}
		junk++
		m.advance(1)
	}
	for {
		if m.err != nil {
			return f, junk, junkAt, m.err
		}
		if !m.fill(4) {
			if m.err != nil {
				continue
			}
			for m.r < m.w {
				note(m.buf[m.r])
			}
			if firstNZ < 0 && m.started {
				junk = 0 // zero padding after the last frame is not damage
			}
			return f, junk, junkAt, io.EOF
		}
		if kind, size := m.tagAt(); kind != noTag && (junk == 0 || m.started && m.tagInJunk(kind, size)) {
			if kind == apeFooter {
				// The tag's items are behind us, taken for junk: when the
				// junk is zeros and the items, it is none.
				items := size - 32
				itemsAt := m.off - items
				switch {
				case junk > 0 && junkAt <= itemsAt && (firstNZ < 0 || firstNZ >= itemsAt):
					junk = 0
				case junk >= items:
					junk -= items
				}
				m.advance(32)
				continue
			}
			if junk > 0 && firstNZ < 0 {
				junk = 0 // zeros before a tag: padding
			}
			if kind == id3v2Tag && !m.started {
				m.fill(int(min(size, bufSize)))
				m.title, m.artist = id3Text(m.buf[m.r:m.w])
			}
			at := m.off
			if !m.skip(size) {
				return f, junk, junkAt, fmt.Errorf("mp3: a %d-byte tag at offset %d runs past the end of the input: %w", size, at, io.ErrUnexpectedEOF)
			}
			continue
		}
		h, ok := parseHeader(m.buf[m.r : m.r+4])
		if ok && (!m.started || h.sameStream(m.first)) {
			inSync := m.started && junk == 0
			if m.fill(h.size + 4) {
				h2, ok2 := parseHeader(m.buf[m.r+h.size : m.r+h.size+4])
				if ok2 && h2.sameStream(h) {
					return m.accept(h), junk, junkAt, nil
				}
				m.fill(h.size + 32)
				rest := m.buf[m.r+h.size : m.w]
				if kind, _ := tagSize(rest); kind != noTag {
					return m.accept(h), junk, junkAt, nil
				}
				if inSync && (allZero(rest[:min(len(rest), 32)]) || !m.chainInside(h)) {
					return m.accept(h), junk, junkAt, nil
				}
			} else if m.err == nil {
				avail := m.w - m.r
				switch {
				case avail >= h.size && (inSync || avail == h.size):
					// The last frame, perhaps with fewer than 4 bytes
					// after it.
					return m.accept(h), junk, junkAt, nil
				case inSync:
					// A frame of our stream cut by the end of input.
					m.advance(avail)
					return f, 0, 0, fmt.Errorf("mp3: the input ends %d bytes into a %d-byte frame at offset %d: %w", avail, h.size, m.off-int64(avail), io.ErrUnexpectedEOF)
				}
			}
		}
		note(m.buf[m.r])
		if !m.started && junk > maxJunk {
			return f, junk, junkAt, fmt.Errorf("%w: no frame in the first %d bytes", ErrNotMP3, maxJunk)
		}
	}
}

func allZero(b []byte) bool {
	for _, v := range b {
		if v != 0 {
			return false
		}
	}
	return true
}

// chainInside reports whether two chained frames of the stream start
// inside the span of the frame with header h at buf[r:]: then that frame
// was cut short and the chain is the stream going on.
func (m *walker) chainInside(h header) bool {
	m.fill(h.size + 2*maxFrame)
	b := m.buf[m.r:m.w]
	for i := 1; i < h.size && i+4 <= len(b); i++ {
		if b[i] != 0xff {
			continue
		}
		h1, ok := parseHeader(b[i:])
		if !ok || !h1.sameStream(m.first) || i+h1.size+4 > len(b) {
			continue
		}
		if h2, ok := parseHeader(b[i+h1.size:]); ok && h2.sameStream(h1) {
			return true
		}
	}
	return false
}

// tagInJunk reports whether a tag of the kind and size found inside junk
// is one: well formed, and (but for an APE footer, which ends its tag) so
// placed that a frame of the stream, another tag or the end of the input
// follows it. Bytes of damage or of cover art that spell "TAG" or "ID3"
// are not taken for a tag, which would skip what follows them.
func (m *walker) tagInJunk(kind int, size int64) bool {
	b := m.buf[m.r:m.w]
	switch kind {
	case id3v1Tag:
		m.fill(129)
		return m.w-m.r == 128 && m.eof // only as the last 128 bytes
	case id3v2Tag:
		if b[3] < 2 || b[3] > 4 || b[4] == 0xff || b[5]&0x0f != 0 {
			return false
		}
	case apeHeader, apeFooter:
		v := binary.LittleEndian.Uint32(b[8:])
		if v != 1000 && v != 2000 || !allZero(b[24:32]) {
			return false
		}
		if kind == apeFooter {
			return true
		}
	}
	if size > bufSize-8 {
		return false // cannot be checked; the walker goes on byte by byte
	}
	n := int(size)
	if !m.fill(n + 4) {
		return m.eof && m.err == nil && m.w-m.r == n // the tag ends the input
	}
	after := m.buf[m.r+n : m.w]
	if h, ok := parseHeader(after); ok && h.sameStream(m.first) {
		return true
	}
	kindAfter, _ := tagSize(after)
	return kindAfter != noTag
}

func (m *walker) accept(h header) frame {
	if !m.started {
		m.first, m.started = h, true
	}
	f := frame{h: h, data: m.buf[m.r : m.r+h.size], off: m.off}
	m.advance(h.size)
	return f
}

// Sniff looks for MPEG Layer III audio in the first bytes of an input:
// two chained frames of one stream (or a single frame that is all of
// head). It returns the MPEG version of the first (1, 2, or 25 for
// MPEG-2.5, which Decoder refuses), or 0 if there is none.
func Sniff(head []byte) int {
	for i := 0; i+4 <= len(head); i++ {
		if head[i] != 0xff {
			continue
		}
		h, ok := parseHeader(head[i:])
		if !ok {
			continue
		}
		if j := i + h.size; j+4 <= len(head) {
			if h2, ok := parseHeader(head[j:]); ok && h2.sameStream(h) {
				return h.version
			}
		} else if i == 0 && j >= len(head) {
			return h.version // one frame, all there is
		}
	}
	return 0
}
