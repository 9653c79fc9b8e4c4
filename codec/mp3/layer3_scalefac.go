package mp3

// scalefacs are the scale factors of one granule of one channel: of the
// 22 long bands (the last always 0) and of the 13 short bands of each of
// the 3 windows (the last always 0). In the right channel's intensity
// stereo bands they are intensity positions.
type scalefacs struct {
	l [22]uint8
	s [13][3]uint8
	// isMax is, in LSF intensity stereo, the position that means "no
	// intensity here" for each long band, or short band; the same for all
	// bands in MPEG-1 (7).
	isMaxL [22]uint8
	isMaxS [13]uint8
	// isScale is LSF intensity_scale (0 or 1).
	isScale int
}

// slenV1 are the bit widths of the two groups of scale factors of MPEG-1
// by scalefac_compress (ISO 11172-3 2.4.2.7).
var slenV1 = [16][2]int{
	{0, 0}, {0, 1}, {0, 2}, {0, 3}, {3, 0}, {1, 1}, {1, 2}, {1, 3},
	{2, 1}, {2, 2}, {2, 3}, {3, 1}, {3, 2}, {3, 3}, {4, 2}, {4, 3},
}

// pretab is added to the long bands' scale factors when preflag is set
// (ISO 11172-3 Table B.6).
var pretab = [22]uint8{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 3, 2, 0}

// mixedBands returns where mixed blocks switch from long to short: the
// number of long bands below the switch, and the first short band above
// it. The switch is at line 36 (two subbands), or, at 8 kHz, where no
// short band starts at 36, at the first line above it where both a long
// and a short band start (48).
func mixedBands(b *scaleBands) (longEnd, shortStart int) {
	for {
		for b.long[longEnd] < 36 || b.long[longEnd] < 3*b.short[shortStart] {
			longEnd++
		}
		for 3*b.short[shortStart] < b.long[longEnd] {
			shortStart++
		}
		if b.long[longEnd] == 3*b.short[shortStart] {
			return longEnd, shortStart
		}
	}
}

// readScalefacsV1 reads the MPEG-1 scale factors of granule gr of a
// channel into sf, which holds granule 0's when gr is 1 (scfsi copies
// them).
func readScalefacsV1(r *bitReader, g *granuleInfo, scfsi *[4]bool, gr int, b *scaleBands, sf *scalefacs) {
	slen := slenV1[g.scalefacCompress]
	if g.blockType == blockShort {
		longEnd, shortStart := 0, 0
		if g.mixed {
			longEnd, shortStart = mixedBands(b)
			for sfb := range longEnd {
				sf.l[sfb] = uint8(r.read(slen[0]))
			}
		}
		for sfb := shortStart; sfb < 12; sfb++ {
			n := slen[1]
			if sfb < 6 {
				n = slen[0]
			}
			for w := range 3 {
				sf.s[sfb][w] = uint8(r.read(n))
			}
		}
		sf.s[12] = [3]uint8{}
		return
	}
	// Long blocks in four groups of bands that granule 1 may take from
	// granule 0.
	groups := [5]int{0, 6, 11, 16, 21}
	for k := range 4 {
		if gr == 1 && scfsi[k] {
			continue
		}
		n := slen[1]
		if k < 2 {
			n = slen[0]
		}
		for sfb := groups[k]; sfb < groups[k+1]; sfb++ {
			sf.l[sfb] = uint8(r.read(n))
		}
	}
	sf.l[21] = 0
}

// nrOfSfb is the number of scale factors in each of the four groups of
// LSF scale factors (ISO 13818-3 Table B.1 (nr_of_sfb_block)), by the
// row that scalefac_compress selects, and long, short and mixed blocks.
// Short and mixed blocks count one factor for each band and window.
var nrOfSfb = [6][3][4]int{
	{{6, 5, 5, 5}, {9, 9, 9, 9}, {6, 9, 9, 9}},
	{{6, 5, 7, 3}, {9, 9, 12, 6}, {6, 9, 12, 6}},
	{{11, 10, 0, 0}, {18, 18, 0, 0}, {15, 18, 0, 0}},
	{{7, 7, 7, 0}, {12, 12, 12, 0}, {6, 15, 12, 0}},
	{{6, 6, 6, 3}, {12, 9, 9, 6}, {6, 12, 9, 6}},
	{{8, 8, 5, 0}, {15, 12, 9, 0}, {6, 18, 9, 0}},
}

// readScalefacsLSF reads the scale factors of an MPEG-2 or MPEG-2.5
// granule (ISO 13818-3 2.4.3.2). isRight is set for the right channel of
// an intensity stereo frame, whose factors in the intensity bands are
// intensity positions: it selects the other rows of the tables, and
// sets the granule's preflag and the positions' maxima.
func readScalefacsLSF(r *bitReader, g *granuleInfo, isRight bool, b *scaleBands, sf *scalefacs) {
	sfc := g.scalefacCompress
	var slen [4]int
	var row int
	g.preflag = false
	if !isRight {
		switch {
		case sfc < 400:
			slen = [4]int{(sfc >> 4) / 5, (sfc >> 4) % 5, sfc & 15 >> 2, sfc & 3}
		case sfc < 500:
			sfc -= 400
			slen = [4]int{(sfc >> 2) / 5, (sfc >> 2) % 5, sfc & 3, 0}
			row = 1
		default:
			sfc -= 500
			slen = [4]int{sfc / 3, sfc % 3, 0, 0}
			row = 2
			g.preflag = true
		}
	} else {
		sf.isScale = sfc & 1
		sfc >>= 1
		switch {
		case sfc < 180:
			slen = [4]int{sfc / 36, sfc % 36 / 6, sfc % 36 % 6, 0}
			row = 3
		case sfc < 244:
			sfc -= 180
			slen = [4]int{sfc & 63 >> 4, sfc & 15 >> 2, sfc & 3, 0}
			row = 4
		default:
			sfc -= 244
			slen = [4]int{sfc / 3, sfc % 3, 0, 0}
			row = 5
		}
	}
	kind := 0
	if g.blockType == blockShort {
		kind = 1
		if g.mixed {
			kind = 2
		}
	}
	counts := &nrOfSfb[row][kind]
	// The factors in the order they are coded: long bands, then (short
	// or the short part of mixed) bands by band and window.
	longEnd, shortStart := 22, 0
	switch kind {
	case 1:
		longEnd = 0
	case 2:
		longEnd, shortStart = mixedBands(b)
	}
	sfb, w := 0, 0
	for k := range 4 {
		n := slen[k]
		top := uint8(1<<n - 1)
		for range counts[k] {
			v := uint8(r.read(n))
			if sfb < longEnd {
				sf.l[sfb], sf.isMaxL[sfb] = v, top
				sfb++
				if sfb == longEnd {
					sfb = shortStart
					longEnd = -1 // the rest are short
				}
				continue
			}
			if sfb < 13 {
				sf.s[sfb][w] = v
				sf.isMaxS[sfb] = top
			}
			if w++; w == 3 {
				w = 0
				sfb++
			}
		}
	}
	// Bands beyond the coded ones have factor 0; intensity stereo takes
	// the last coded band's position for them.
	if kind == 0 {
		for ; sfb < 22; sfb++ {
			sf.l[sfb] = 0
			sf.isMaxL[sfb] = sf.isMaxL[max(sfb-1, 0)]
		}
		return
	}
	for ; sfb < 13; sfb++ {
		sf.s[sfb] = [3]uint8{}
		sf.isMaxS[sfb] = sf.isMaxS[max(sfb-1, 0)]
	}
}
