package mp3

import (
	"fmt"
	"unsafe"
)

// layer3 is our own Layer III decoder (ISO 11172-3, 13818-3, and
// MPEG-2.5): it decodes one frame at a time, keeping the bit reservoir
// and the filter banks' state from frame to frame. It allocates nothing
// per frame. It is not safe for concurrent use.
type layer3 struct {
	res    reservoir
	si     sideInfo
	mode   frameMode
	tables *huffTables
	sf     [2]scalefacs // of the last granule, which scfsi takes from
	is     [576]int32
	xr     [2][576]float32 // the granule's spectrum, by channel
	nz     [2]int          // lines of xr up to the last non-zero one, or more

	overlap [2][32][18]float32 // the IMDCTs' second halves, by channel and subband
	sub     [18][32]float32    // a granule's subband samples, by time slot
	synth   [2]synth

	pcm [1152 * 2]float32 // a frame's output, for the Decoder
}

// newLayer3 returns a decoder with the standard's Huffman tables.
func newLayer3() *layer3 {
	initRequant()
	initStereo()
	initIMDCT()
	initSynth()
	return &layer3{tables: stdTables()}
}

// decodeFrame decodes a frame into out: h.samples() samples of each of
// the frame's channels, interleaved, full scale ±1. A frame whose main
// data cannot be had (ok false from prepare) or is damaged (err) gives
// what the filter banks hold from the frames before it, fading out, in
// place of its own granules; err says why.
func (l *layer3) decodeFrame(f frame, out []float32) error {
	h := f.h
	main, ok, err := l.prepare(f)
	if err != nil || !ok {
		l.silence(h, out)
		return err
	}
	m := l.mode
	b := bandsFor(h.rate)
	r := bitReader{b: main}
	for gr := range m.granules {
		for ch := range m.channels {
			if err = l.readGranule(&r, h, gr, ch); err != nil {
				break
			}
		}
		if err != nil {
			// The rest of the frame is lost: its granules are silent.
			for ; gr < m.granules; gr++ {
				l.filter(gr, b, out, true)
			}
			return err
		}
		if m.channels == 2 {
			l.stereo(gr, b)
		}
		l.filter(gr, b, out, false)
	}
	return nil
}

// filter runs granule gr's spectra (or silence) through the hybrid and
// synthesis filter banks into out.
func (l *layer3) filter(gr int, b *scaleBands, out []float32, silent bool) {
	nch := l.mode.channels
	base := gr * 576 * nch
	for ch := range nch {
		g := &l.si.gr[gr][ch]
		if silent {
			clear(l.xr[ch][:])
			l.nz[ch] = 0
			g = &granuleInfo{}
		}
		hybrid(&l.xr[ch], l.nz[ch], g, b, &l.overlap[ch], &l.sub)
		for t := range 18 {
			l.synth[ch].slot(&l.sub[t], out[base+t*32*nch+ch:], nch)
		}
	}
}

// silence fills a frame that cannot be decoded from the filter banks'
// state.
func (l *layer3) silence(h header, out []float32) {
	l.mode = frameMode{mode: modeStereo, lsf: h.version != 1, channels: h.channels, granules: 2}
	if h.channels == 1 {
		l.mode.mode = modeMono
	}
	if l.mode.lsf {
		l.mode.granules = 1
	}
	b := bandsFor(h.rate)
	for gr := range l.mode.granules {
		l.filter(gr, b, out, true)
	}
}

// prepare reads a frame's side information (checking its CRC if it has
// one) and finds its main data in the bit reservoir. ok is false, with a
// nil error, when the frame takes main data from frames not seen (at the
// start of a stream or after a gap): it cannot be decoded, but what it
// carries is kept for the frames after it.
func (l *layer3) prepare(f frame) (main []byte, ok bool, err error) {
	h, b := f.h, f.data
	o := h.sideInfoOffset() + h.sideInfoSize()
	if len(b) < o {
		return nil, false, fmt.Errorf("%w: a %d-byte frame", errSideInfo, len(b))
	}
	if !crcOK(h, b) {
		l.res.frame(0, b[o:])
		return nil, false, errCRC
	}
	l.mode = modeOf(h, b)
	if err := l.si.parse(h, l.mode, b); err != nil {
		l.res.frame(0, b[o:])
		return nil, false, err
	}
	main, ok = l.res.frame(l.si.mainDataBegin, b[o:])
	return main, ok, nil
}

// readGranule reads the scale factors and the Huffman coded spectrum of
// one granule of one channel, starting at bit r.pos of the frame's main
// data, and requantises them into l.xr[ch]. It leaves r.pos at the
// granule's end, which part2_3_length gives.
func (l *layer3) readGranule(r *bitReader, h header, gr, ch int) error {
	g := &l.si.gr[gr][ch]
	start := r.pos
	end := start + g.part23Len
	if end > 8*len(r.b) {
		return fmt.Errorf("%w: granule %d of channel %d ends %d bits past the main data", errMainData, gr, ch, end-8*len(r.b))
	}
	b := bandsFor(h.rate)
	sf := &l.sf[ch]
	if l.mode.lsf {
		readScalefacsLSF(r, g, l.mode.is && ch == 1, b, sf)
	} else {
		readScalefacsV1(r, g, &l.si.scfsi[ch], gr, b, sf)
	}
	if r.pos > end {
		return fmt.Errorf("%w: %d bits of scale factors in a granule of %d", errMainData, r.pos-start, g.part23Len)
	}
	n, err := l.tables.readSpectrum(r, g, end, &l.is)
	if err != nil {
		return err
	}
	r.pos = end
	l.nz[ch] = n
	requantize(&l.is, n, g, sf, b, &l.xr[ch])
	return nil
}

// reset forgets the stream's state: after a gap, the bit reservoir of
// the frames before it is lost (the filter banks' state is kept: it
// fades out).
func (l *layer3) reset() { l.res.reset() }

// layer3Size is the memory a layer3 holds: its fields, the bit
// reservoir's buffer among them (its tables are shared).
const layer3Size = int64(unsafe.Sizeof(layer3{}))
