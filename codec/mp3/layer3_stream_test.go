package mp3

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Streams made here: Layer III frames whose granules' spectra are coded
// with the random Huffman codes of testTables, so that the whole decoder
// runs on frames whose content is known.

// testGranule is what the test codes into one granule of one channel.
type testGranule struct {
	g    granuleInfo
	r0   int // region0_count, region1_count (long blocks)
	r1   int
	sf   scalefacs
	spec []int32 // big values, then count1 quadruples
}

// streamKind is the kind of stream testStream makes.
type streamKind struct {
	lsf bool // MPEG-2 mono at 22.05 kHz, rather than MPEG-1 stereo at 44.1 kHz
	ms  bool // joint stereo, mid/side (MPEG-1)
}

func (k streamKind) rate() int {
	if k.lsf {
		return 22050
	}
	return 44100
}

func (k streamKind) channels() int {
	if k.lsf {
		return 1
	}
	return 2
}

func (k streamKind) granules() int {
	if k.lsf {
		return 1
	}
	return 2
}

// sfSlot is a scale factor in coding order: its band (and window, for a
// short band) and its width in bits.
type sfSlot struct {
	long   bool
	sfb, w int
	bits   int
}

// sfSlots lists a granule's scale factors in the order they are coded
// (ISO 11172-3 2.4.2.7, ISO 13818-3 2.4.3.2, the first row of
// nr_of_sfb_block for LSF, scalefac_compress below 400).
func sfSlots(g *granuleInfo, lsf bool) []sfSlot {
	var bands []sfSlot // without widths
	switch {
	case g.blockType != blockShort:
		for sfb := range 21 {
			bands = append(bands, sfSlot{long: true, sfb: sfb})
		}
	default:
		first := 0
		if g.mixed {
			longEnd := 8
			if lsf {
				longEnd = 6
			}
			for sfb := range longEnd {
				bands = append(bands, sfSlot{long: true, sfb: sfb})
			}
			first = 3
		}
		for sfb := first; sfb < 12; sfb++ {
			for w := range 3 {
				bands = append(bands, sfSlot{sfb: sfb, w: w})
			}
		}
	}
	if !lsf {
		slen := slenV1[g.scalefacCompress]
		for i := range bands {
			bands[i].bits = slen[1]
			if bands[i].long && bands[i].sfb < 11 || !bands[i].long && bands[i].sfb < 6 {
				bands[i].bits = slen[0]
			}
		}
		return bands
	}
	sfc := g.scalefacCompress
	slen := [4]int{(sfc >> 4) / 5, (sfc >> 4) % 5, sfc & 15 >> 2, sfc & 3}
	kind := 0
	if g.blockType == blockShort {
		kind = 1
		if g.mixed {
			kind = 2
		}
	}
	i := 0
	for k, n := range nrOfSfb[0][kind] {
		for range n {
			bands[i].bits = slen[k]
			i++
		}
	}
	return bands
}

// randomGranule makes a granule of block type bt (mixed if asked).
func randomGranule(rng *rand.Rand, kind streamKind, bt int, mixed bool) testGranule {
	b := bandsFor(kind.rate())
	var tg testGranule
	g := &tg.g
	g.blockType, g.mixed = bt, mixed
	g.globalGain = 130 + rng.IntN(40)
	g.scalefacCompress = rng.IntN(16)
	if kind.lsf {
		g.scalefacCompress = rng.IntN(400)
	}
	g.scalefacScale = rng.IntN(2)
	g.count1Table = rng.IntN(2)
	sels := []int{0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 18, 21, 24, 27, 31}
	g.bigValues = rng.IntN(70)
	for k := range 3 {
		g.tableSelect[k] = sels[rng.IntN(len(sels))]
	}
	if bt != blockLong {
		g.tableSelect[2] = 0
		g.subblockGain = [3]int{rng.IntN(3), rng.IntN(3), rng.IntN(3)}
		g.region1Start, g.region2Start = b.long[8], 576
		if bt == blockShort && !mixed {
			g.region1Start = 3 * b.short[3]
		}
	} else {
		g.preflag = !kind.lsf && rng.IntN(2) == 1
		tg.r0, tg.r1 = rng.IntN(16), rng.IntN(8)
		g.region1Start = b.long[tg.r0+1]
		g.region2Start = b.long[min(tg.r0+tg.r1+2, 22)]
	}
	bv := 2 * g.bigValues
	g.region1Start, g.region2Start = min(g.region1Start, bv), min(g.region2Start, bv)
	for _, sl := range sfSlots(g, kind.lsf) {
		v := uint8(rng.IntN(1 << sl.bits))
		if sl.long {
			tg.sf.l[sl.sfb] = v
		} else {
			tg.sf.s[sl.sfb][sl.w] = v
		}
	}
	quads := rng.IntN(40)
	tg.spec = make([]int32, bv+4*quads)
	for i := 0; i < bv; i++ {
		region := 0
		if i >= g.region2Start {
			region = 2
		} else if i >= g.region1Start {
			region = 1
		}
		sel := g.tableSelect[region]
		if sel == 0 {
			continue
		}
		top := int32(pairSize[codeTable(sel)] - 1)
		if lb := pairLinbits[sel]; lb > 0 {
			top = int32(min(15+1<<lb-1, 200))
		}
		v := rng.Int32N(top + 1)
		if rng.IntN(2) == 0 {
			v = -v
		}
		tg.spec[i] = v
	}
	for i := bv; i < len(tg.spec); i++ {
		tg.spec[i] = rng.Int32N(3) - 1
	}
	return tg
}

// writeGranule codes a granule's scale factors and spectrum, and sets
// its part2_3_length.
func writeGranule(w *bitWriter, tg *testGranule, lsf bool, byTable [25]map[int]huffCode) {
	start := w.n
	g := &tg.g
	for _, sl := range sfSlots(g, lsf) {
		if sl.long {
			w.put(uint32(tg.sf.l[sl.sfb]), sl.bits)
		} else {
			w.put(uint32(tg.sf.s[sl.sfb][sl.w]), sl.bits)
		}
	}
	encodeSpectrum(w, g, byTable, tg.spec)
	g.part23Len = w.n - start
}

// writeSideInfo writes the side information of a frame (scfsi all 0).
func writeSideInfo(w *bitWriter, kind streamKind, begin int, grs *[2][2]testGranule) {
	if kind.lsf {
		w.put(uint32(begin), 8)
		w.put(0, 1)
	} else {
		w.put(uint32(begin), 9)
		w.put(0, 3)
		w.put(0, 8) // scfsi
	}
	for gr := range kind.granules() {
		for ch := range kind.channels() {
			tg := &grs[gr][ch]
			g := &tg.g
			w.put(uint32(g.part23Len), 12)
			w.put(uint32(g.bigValues), 9)
			w.put(uint32(g.globalGain), 8)
			if kind.lsf {
				w.put(uint32(g.scalefacCompress), 9)
			} else {
				w.put(uint32(g.scalefacCompress), 4)
			}
			if g.blockType != blockLong {
				w.put(1, 1)
				w.put(uint32(g.blockType), 2)
				w.put(b2u(g.mixed), 1)
				w.put(uint32(g.tableSelect[0]), 5)
				w.put(uint32(g.tableSelect[1]), 5)
				for k := range 3 {
					w.put(uint32(g.subblockGain[k]), 3)
				}
			} else {
				w.put(0, 1)
				for k := range 3 {
					w.put(uint32(g.tableSelect[k]), 5)
				}
				w.put(uint32(tg.r0), 4)
				w.put(uint32(tg.r1), 3)
			}
			if !kind.lsf {
				w.put(b2u(g.preflag), 1)
			}
			w.put(uint32(g.scalefacScale), 1)
			w.put(uint32(g.count1Table), 1)
		}
	}
}

// testStream makes n frames of a kind, their granules' main data
// carried partly in the frames before them (the bit reservoir). It
// returns the frames and their granules.
func testStream(t testing.TB, rng *rand.Rand, n int, kind streamKind, byTable [25]map[int]huffCode) ([]frame, [][2][2]testGranule) {
	t.Helper()
	// MPEG-1 at 320 kbit/s and 44.1 kHz, stereo or joint stereo; MPEG-2
	// at 160 kbit/s and 22.05 kHz, mono: no padding.
	hdr := []byte{0xff, 0xfb, 0xe0, 0x00}
	if kind.ms {
		hdr[3] = 0x60
	}
	if kind.lsf {
		hdr = []byte{0xff, 0xf3, 0xe0, 0xc0}
	}
	h, ok := parseHeader(hdr)
	require.True(t, ok)
	own := h.size - 4 - h.sideInfoSize()
	kinds := []struct {
		bt    int
		mixed bool
	}{{blockLong, false}, {blockStart, false}, {blockShort, false}, {blockShort, true}, {blockStop, false}}
	k := 0
	// The granules' data, each frame's as early in the stream of main
	// data as the reservoir allows.
	var all [][2][2]testGranule
	var datas [][]byte
	var starts []int
	end := 0
	for i := range n {
		var grs [2][2]testGranule
		var w bitWriter
		for gr := range kind.granules() {
			bk := kinds[k%len(kinds)]
			if rng.IntN(2) == 0 {
				k++
			}
			for ch := range kind.channels() {
				grs[gr][ch] = randomGranule(rng, kind, bk.bt, bk.mixed)
				writeGranule(&w, &grs[gr][ch], kind.lsf, byTable)
			}
		}
		back := reservoirMax // main_data_begin's 9 bits, or LSF's 8
		if kind.lsf {
			back = 255
		}
		start := max(end, i*own-back)
		end = start + len(w.b)
		require.LessOrEqual(t, end, (i+1)*own, "the granules of frame %d do not fit", i)
		all = append(all, grs)
		datas = append(datas, w.b)
		starts = append(starts, start)
	}
	stream := make([]byte, n*own)
	for i := range n {
		copy(stream[starts[i]:], datas[i])
	}
	var frames []frame
	for i := range n {
		var si bitWriter
		writeSideInfo(&si, kind, i*own-starts[i], &all[i])
		f := append([]byte(nil), hdr...)
		f = append(f, si.b...)
		f = append(f, stream[i*own:(i+1)*own]...)
		frames = append(frames, frame{h: h, data: f})
	}
	return frames, all
}

// withTestTables makes the decoder use random Huffman codes and a random
// synthesis window until the test ends.
func withTestTables(t *testing.T, rng *rand.Rand) (*layer3, [25]map[int]huffCode) {
	ts, byTable := testTables(t, rng)
	l := newLayer3()
	l.tables = ts
	saved := synthD
	t.Cleanup(func() { synthD = saved; arrangeSynthWindow() })
	for i := range synthD {
		synthD[i] = float32(rng.NormFloat64() / 16)
	}
	arrangeSynthWindow()
	return l, byTable
}

// The side information, scale factors and spectra of a stream made here
// (with the bit reservoir, every block type and mixed blocks) read back
// as they were written.
func TestStreamSpectra(t *testing.T) {
	for _, kind := range []streamKind{{}, {lsf: true}} {
		rng := rand.New(rand.NewPCG(21, 22))
		l, byTable := withTestTables(t, rng)
		frames, all := testStream(t, rng, 40, kind, byTable)
		reservoir := 0
		for i, f := range frames {
			main, ok, err := l.prepare(f)
			require.NoError(t, err, "frame %d", i)
			require.True(t, ok, "frame %d", i)
			if l.si.mainDataBegin > 0 {
				reservoir++
			}
			r := bitReader{b: main}
			for gr := range kind.granules() {
				for ch := range kind.channels() {
					want := &all[i][gr][ch]
					got := l.si.gr[gr][ch]
					msg := fmt.Sprintf("%+v frame %d granule %d channel %d", kind, i, gr, ch)
					require.Equal(t, want.g, got, msg)
					require.NoError(t, l.readGranule(&r, f.h, gr, ch), msg)
					require.Equal(t, want.spec, l.is[:len(want.spec)], msg)
					for _, sl := range sfSlots(&want.g, kind.lsf) {
						if sl.long {
							require.Equal(t, want.sf.l[sl.sfb], l.sf[ch].l[sl.sfb], "%s band %d", msg, sl.sfb)
						} else {
							require.Equal(t, want.sf.s[sl.sfb][sl.w], l.sf[ch].s[sl.sfb][sl.w], "%s band %d window %d", msg, sl.sfb, sl.w)
						}
					}
				}
			}
		}
		assert.Greater(t, reservoir, len(frames)/2, "frames that take main data from the ones before")
	}
}

// naiveDecoder decodes a stream made here by the standard's formulas,
// in float64, step by step.
type naiveDecoder struct {
	overlap [2][32][18]float64
	v       [2][1024]float64
}

func (d *naiveDecoder) granule(grs *[2]testGranule, kind streamKind, out [][2]float64) {
	b := bandsFor(kind.rate())
	// Mixed blocks: long bands up to line 36 (8 at 44.1 kHz, 6 at
	// 22.05 kHz), then short bands from 3.
	mixedLong := 8
	if kind.lsf {
		mixedLong = 6
	}
	var xr [2][576]float64
	for ch := range kind.channels() {
		tg := &grs[ch]
		g := &tg.g
		longEnd, shortStart := 22, 13
		if g.blockType == blockShort {
			longEnd, shortStart = 0, 0
			if g.mixed {
				longEnd, shortStart = mixedLong, 3
			}
		}
		mult := 0.5 * float64(1+g.scalefacScale)
		for i, q := range tg.spec {
			var e float64
			if i < b.long[longEnd] {
				sfb := 0
				for b.long[sfb+1] <= i {
					sfb++
				}
				p := 0.0
				if g.preflag {
					p = float64(pretab[sfb])
				}
				e = 0.25*float64(g.globalGain-210) - mult*(float64(tg.sf.l[sfb])+p)
			} else {
				sfb := shortStart
				for 3*b.short[sfb+1] <= i {
					sfb++
				}
				win := (i - 3*b.short[sfb]) / (b.short[sfb+1] - b.short[sfb])
				e = 0.25*float64(g.globalGain-210-8*g.subblockGain[win]) - mult*float64(tg.sf.s[sfb][win])
			}
			v := float64(q)
			xr[ch][i] = math.Copysign(math.Pow(math.Abs(v), 4.0/3), v) * math.Pow(2, e)
		}
	}
	if kind.ms {
		for i := range 576 {
			m, s := xr[0][i], xr[1][i]
			xr[0][i], xr[1][i] = (m+s)/math.Sqrt2, (m-s)/math.Sqrt2
		}
	}
	for ch := range kind.channels() {
		g := &grs[ch].g
		x := xr[ch]
		longSB, first := 32, 13
		if g.blockType == blockShort {
			longSB, first = 0, 0
			if g.mixed {
				longSB, first = 2, 3
			}
		}
		coded := x
		for sfb := first; sfb < 13; sfb++ {
			at, width := 3*b.short[sfb], b.short[sfb+1]-b.short[sfb]
			for w := range 3 {
				for j := range width {
					x[at+3*j+w] = coded[at+w*width+j]
				}
			}
		}
		for sb := 1; sb < longSB; sb++ {
			for i := range 8 {
				c := aliasCoef[i]
				cs, ca := 1/math.Sqrt(1+c*c), c/math.Sqrt(1+c*c)
				a, bb := x[18*sb-1-i], x[18*sb+i]
				x[18*sb-1-i] = a*cs - bb*ca
				x[18*sb+i] = bb*cs + a*ca
			}
		}
		var sub [18][32]float64
		for sb := range 32 {
			bt := g.blockType
			if sb < longSB && g.mixed {
				bt = blockLong
			} else if sb >= longSB {
				bt = blockShort
			}
			in := make([]float32, 18)
			for i := range in {
				in[i] = float32(x[18*sb+i])
			}
			z := naiveSubband(in, bt)
			for i := range 18 {
				v := z[i] + d.overlap[ch][sb][i]
				if sb%2 == 1 && i%2 == 1 {
					v = -v
				}
				sub[i][sb] = v
				d.overlap[ch][sb][i] = z[18+i]
			}
		}
		V := &d.v[ch]
		for ts := range 18 {
			copy(V[64:], V[:960])
			for i := range 64 {
				V[i] = 0
				for k := range 32 {
					V[i] += sub[ts][k] * math.Cos(float64((16+i)*(2*k+1))*math.Pi/64)
				}
			}
			for j := range 32 {
				var s float64
				for i := range 8 {
					s += V[128*i+j]*float64(synthD[64*i+j]) + V[128*i+96+j]*float64(synthD[64*i+32+j])
				}
				out[32*ts+j][ch] = s
			}
		}
	}
}

// The decoder's PCM is that of the standard's steps done directly, frame
// after frame: MPEG-1 stereo with mid/side coding and without, MPEG-2
// mono (which stays mono).
func TestStreamPCM(t *testing.T) {
	for _, kind := range []streamKind{{}, {ms: true}, {lsf: true}} {
		rng := rand.New(rand.NewPCG(23, 24))
		l, byTable := withTestTables(t, rng)
		frames, all := testStream(t, rng, 12, kind, byTable)
		var nd naiveDecoder
		nch, samples := kind.channels(), 576*kind.granules()
		out := make([]float32, samples*nch)
		var worst, peak float64
		for i, f := range frames {
			require.Equal(t, samples, f.h.samples())
			require.Equal(t, nch, f.h.channels)
			require.NoError(t, l.decodeFrame(f, out), "frame %d", i)
			want := make([][2]float64, samples)
			for gr := range kind.granules() {
				nd.granule(&all[i][gr], kind, want[576*gr:])
			}
			for s := range samples {
				for ch := range nch {
					peak = max(peak, math.Abs(want[s][ch]))
					worst = max(worst, math.Abs(want[s][ch]-float64(out[nch*s+ch])))
				}
			}
		}
		t.Logf("%+v: largest difference %.3g of a peak of %.3g", kind, worst, peak)
		require.Positive(t, peak)
		assert.Less(t, worst/peak, 1e-4)
	}
}

// Decoding a frame allocates nothing.
func TestStreamNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(25, 26))
	l, byTable := withTestTables(t, rng)
	frames, _ := testStream(t, rng, 20, streamKind{ms: true}, byTable)
	out := make([]float32, 1152*2)
	i := 0
	allocs := testing.AllocsPerRun(40, func() {
		if err := l.decodeFrame(frames[i%len(frames)], out); err != nil {
			t.Fatal(err)
		}
		i++
	})
	assert.Zero(t, allocs)
}

// A damaged frame, or a lost one, costs the frames whose data it held:
// the frames after them decode exactly as in the whole stream once the
// filter banks' state has passed (two frames).
func TestStreamDamage(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 28))
	l, byTable := withTestTables(t, rng)
	frames, _ := testStream(t, rng, 16, streamKind{ms: true}, byTable)
	ts := l.tables
	decodeAll := func(frames []frame, gapAt int) ([][]float32, []error) {
		l := newLayer3()
		l.tables = ts
		var out [][]float32
		var errs []error
		for i, f := range frames {
			if i == gapAt {
				l.reset()
			}
			pcm := make([]float32, 1152*2)
			errs = append(errs, l.decodeFrame(f, pcm))
			out = append(out, pcm)
		}
		return out, errs
	}
	clean, errs := decodeAll(frames, -1)
	for i, err := range errs {
		require.NoError(t, err, "frame %d", i)
	}

	t.Run("damaged side information", func(t *testing.T) {
		damaged := append([]frame(nil), frames...)
		b := append([]byte(nil), frames[6].data...)
		// big_values of granule 0, channel 0: bits 32-40 of the side
		// information.
		b[4+4], b[4+5] = 0xff, b[4+5]|0x80
		damaged[6] = frame{h: frames[6].h, data: b}
		got, errs := decodeAll(damaged, -1)
		assert.ErrorIs(t, errs[6], errSideInfo)
		for i := range 6 {
			assert.Equal(t, clean[i], got[i], "frame %d, before the damage", i)
		}
		for i := 8; i < len(frames); i++ {
			require.NoError(t, errs[i], "frame %d", i)
			assert.Equal(t, clean[i], got[i], "frame %d, after the damage", i)
		}
		assertFinite(t, got[6])
	})

	t.Run("lost frame", func(t *testing.T) {
		lost := append(append([]frame(nil), frames[:6]...), frames[7:]...)
		got, errs := decodeAll(lost, 6)
		for i := range 6 {
			assert.Equal(t, clean[i], got[i], "frame %d, before the gap", i)
		}
		// The frames after the gap whose main data began before it give
		// what the filter banks held; then the stream decodes as whole.
		first := -1
		for i := 6; i < len(lost); i++ {
			require.NoError(t, errs[i], "frame %d", i)
			if first < 0 && equal(clean[i+1], got[i]) {
				first = i
			}
			assertFinite(t, got[i])
		}
		require.Positive(t, first, "the stream decodes as whole again")
		for i := first; i < len(lost); i++ {
			assert.Equal(t, clean[i+1], got[i], "frame %d after the gap", i)
		}
		t.Logf("whole again %d frames after the gap", first-6)
		assert.LessOrEqual(t, first-6, 4)
	})
}

func equal(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func assertFinite(t *testing.T, pcm []float32) {
	t.Helper()
	for i, v := range pcm {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("sample %d is %g", i, v)
		}
	}
}
