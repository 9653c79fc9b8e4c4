package mp3

import "fmt"

// Channel modes of the header (its bits 24-25).
const (
	modeStereo = iota
	modeJoint
	modeDual
	modeMono
)

// frameMode is what the header's mode bits and the frame's version say
// about its channels and joint stereo coding.
type frameMode struct {
	mode     int  // modeStereo, modeJoint, modeDual or modeMono
	ms       bool // joint stereo: mid/side coding
	is       bool // joint stereo: intensity coding
	lsf      bool // MPEG-2 or MPEG-2.5: one granule, LSF scale factors
	channels int
	granules int
}

// modeOf reads the mode bits of a frame's header.
func modeOf(h header, b []byte) frameMode {
	m := frameMode{mode: int(b[3] >> 6), lsf: h.version != 1, channels: h.channels, granules: 2}
	if m.lsf {
		m.granules = 1
	}
	if m.mode == modeJoint {
		ext := b[3] >> 4 & 3
		m.ms, m.is = ext&2 != 0, ext&1 != 0
	}
	return m
}

// Block types of a granule (block_type).
const (
	blockLong  = 0
	blockStart = 1
	blockShort = 2
	blockStop  = 3
)

// granuleInfo is the side information of one granule of one channel
// (ISO 11172-3 2.4.1.7, 13818-3 2.4.1.7).
type granuleInfo struct {
	part23Len        int // bits of scale factors and Huffman code
	bigValues        int // pairs of the big values region
	globalGain       int
	scalefacCompress int // 4 bits (MPEG-1) or 9 bits (LSF)
	blockType        int
	mixed            bool // long blocks below the first subbands, short above
	tableSelect      [3]int
	subblockGain     [3]int
	// region1Start and region2Start are the first spectral lines of
	// Huffman regions 1 and 2, found from region0_count and
	// region1_count (or their defaults for switched windows) and the
	// scale factor bands; clamped to the big values.
	region1Start, region2Start int
	preflag                    bool
	scalefacScale              int // 0 or 1
	count1Table                int // 0 (table A) or 1 (table B)
}

// sideInfo is the side information of a frame.
type sideInfo struct {
	mainDataBegin int               // bytes of main data in earlier frames
	scfsi         [2][4]bool        // MPEG-1: scale factors shared with granule 0, per band group
	gr            [2][2]granuleInfo // [granule][channel]
}

// parse reads the side information of a frame (b, the frame from its
// header on) with mode m, and checks that it describes a granule this
// decoder can decode: big values within the 576 lines, no reserved block
// type, region boundaries within the bands.
func (si *sideInfo) parse(h header, m frameMode, b []byte) error {
	o := h.sideInfoOffset()
	r := bitReader{b: b[o : o+h.sideInfoSize()]}
	if m.lsf {
		si.mainDataBegin = r.read(8)
		r.read(m.channels) // private bits
	} else {
		si.mainDataBegin = r.read(9)
		r.read(7 - 2*m.channels) // private bits: 5 mono, 3 stereo
		for ch := range m.channels {
			for band := range 4 {
				si.scfsi[ch][band] = r.flag()
			}
		}
	}
	bands := bandsFor(h.rate)
	for gr := range m.granules {
		for ch := range m.channels {
			g := &si.gr[gr][ch]
			g.part23Len = r.read(12)
			g.bigValues = r.read(9)
			g.globalGain = r.read(8)
			if m.lsf {
				g.scalefacCompress = r.read(9)
			} else {
				g.scalefacCompress = r.read(4)
			}
			if g.bigValues > 288 {
				return fmt.Errorf("%w: %d big value pairs", errSideInfo, g.bigValues)
			}
			var region0, region1 int
			if r.flag() { // window switching
				g.blockType = r.read(2)
				g.mixed = r.flag()
				g.tableSelect[0], g.tableSelect[1], g.tableSelect[2] = r.read(5), r.read(5), 0
				for w := range 3 {
					g.subblockGain[w] = r.read(3)
				}
				if g.blockType == blockLong {
					return fmt.Errorf("%w: window switching with block type 0", errSideInfo)
				}
				// Region 0 takes the first 8 long bands (or 9 short band
				// windows, 3 bands of 3 windows), region 1 the rest.
				if g.blockType == blockShort && !g.mixed {
					g.region1Start = 3 * bands.short[3]
				} else {
					g.region1Start = bands.long[8]
				}
				g.region2Start = 576
			} else {
				g.blockType, g.mixed = blockLong, false
				for i := range 3 {
					g.tableSelect[i] = r.read(5)
				}
				g.subblockGain = [3]int{}
				region0, region1 = r.read(4), r.read(3)
				g.region1Start = bands.long[region0+1]
				g.region2Start = bands.long[min(region0+region1+2, 22)]
			}
			if m.lsf {
				g.preflag = false // implied by scalefac_compress instead
			} else {
				g.preflag = r.flag()
			}
			g.scalefacScale = r.read(1)
			g.count1Table = r.read(1)
			bv := 2 * g.bigValues
			g.region1Start = min(g.region1Start, bv)
			g.region2Start = min(g.region2Start, bv)
		}
	}
	return nil
}

// crc16 updates an MPEG audio CRC (polynomial 0x8005, MSB first) with b.
func crc16(crc uint16, b []byte) uint16 {
	for _, v := range b {
		crc ^= uint16(v) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x8005
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// crcOK reports whether a CRC-protected frame's check word matches its
// header's last two bytes and its side information (ISO 11172-3
// 2.4.3.1); a frame without a CRC is OK.
func crcOK(h header, b []byte) bool {
	if !h.crc {
		return true
	}
	if len(b) < 6+h.sideInfoSize() {
		return false
	}
	c := crc16(0xffff, b[2:4])
	c = crc16(c, b[6:6+h.sideInfoSize()])
	return c == uint16(b[4])<<8|uint16(b[5])
}

// reservoirMax is the most main data a frame can take from the frames
// before it: main_data_begin has 9 bits in MPEG-1 (8 in LSF).
const reservoirMax = 511

// reservoir is the bit reservoir: the main data of the last frames, from
// which each frame's main data starts main_data_begin bytes back.
type reservoir struct {
	buf [reservoirMax + maxFrame]byte
	n   int // bytes held
}

// frame appends the main data a frame carries itself (own) and returns
// its whole main data: begin bytes of the frames before it, then own. ok
// is false when fewer than begin bytes are held (at the start, or after
// a gap or a frame that was not added): the frame cannot be decoded, but
// own is kept for the frames after it.
func (r *reservoir) frame(begin int, own []byte) (data []byte, ok bool) {
	if r.n > reservoirMax {
		r.n = copy(r.buf[:], r.buf[r.n-reservoirMax:r.n])
	}
	start := r.n - begin
	r.n += copy(r.buf[r.n:], own)
	if start < 0 {
		return nil, false
	}
	return r.buf[start:r.n], true
}

// reset forgets the main data held: after a gap in the stream.
func (r *reservoir) reset() { r.n = 0 }
