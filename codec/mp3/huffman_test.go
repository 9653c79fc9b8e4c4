package mp3

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bitWriter writes big-endian bit fields, as the encoder does.
type bitWriter struct {
	b []byte
	n int // bits written
}

func (w *bitWriter) put(v uint32, n int) {
	for i := n - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.b = append(w.b, 0)
		}
		if v>>uint(i)&1 != 0 {
			w.b[w.n/8] |= 0x80 >> uint(w.n%8)
		}
		w.n++
	}
}

func (w *bitWriter) code(c huffCode) { w.put(c.code, c.len) }

// randomCode returns a complete prefix code for vals, of words at most
// maxLen bits long, made by splitting random leaves of a code tree.
func randomCode(rng *rand.Rand, vals []int, maxLen int) []huffCode {
	leaves := []huffCode{{}}
	for len(leaves) < len(vals) {
		i := rng.IntN(len(leaves))
		l := leaves[i]
		if l.len >= maxLen {
			continue
		}
		leaves[i] = huffCode{code: l.code << 1, len: l.len + 1}
		leaves = append(leaves, huffCode{code: l.code<<1 | 1, len: l.len + 1})
	}
	rng.Shuffle(len(leaves), func(i, j int) { leaves[i], leaves[j] = leaves[j], leaves[i] })
	for i := range leaves {
		leaves[i].val = vals[i]
	}
	return leaves
}

func byValue(codes []huffCode) map[int]huffCode {
	m := map[int]huffCode{}
	for _, c := range codes {
		m[c.val] = c
	}
	return m
}

func TestCheckPrefixCode(t *testing.T) {
	for _, tc := range []struct {
		name string
		text string
		ok   bool
	}{
		{"complete", "1 01 001 000", true},
		{"incomplete", "1 01 001", false},
		{"over-full", "1 01 001 000 0001", false},
		{"a prefix of another", "1 0 01", false},
		{"a prefix, sum 1", "1 00 01 010", false},
		{"duplicate", "0 0", false},
		{"one word of 1 bit", "1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			codes, err := parseCodes(tc.text)
			require.NoError(t, err)
			err = checkPrefixCode(codes)
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.Error(t, err)
			}
		})
	}
	_, err := parseCodes("1 012")
	assert.Error(t, err)
}

// The count1 tables are complete prefix codes; table B is the four bits
// inverted.
func TestQuadTables(t *testing.T) {
	ts, err := buildTables([25]string{}, quadCodeText)
	require.NoError(t, err)
	for k := range 2 {
		codes, err := parseCodes(quadCodeText[k])
		require.NoError(t, err)
		require.Len(t, codes, 16)
		require.NoError(t, checkPrefixCode(codes))
		for _, c := range codes {
			w := bitWriter{}
			w.code(c)
			w.put(0x5a5, 11) // what follows is not read
			r := bitReader{b: w.b}
			assert.Equal(t, c.val, ts.quads[k].decode(&r), "table %c value %04b", 'A'+k, c.val)
			assert.Equal(t, c.len, r.pos)
		}
	}
	for _, c := range byValue(mustCodes(t, quadCodeText[1])) {
		assert.Equal(t, 4, c.len)
		assert.Equal(t, uint32(15-c.val), c.code)
	}
}

func mustCodes(t *testing.T, text string) []huffCode {
	t.Helper()
	c, err := parseCodes(text)
	require.NoError(t, err)
	return c
}

// Every big values table of the standard that is present is a complete
// prefix code of its pairs (buildTables checks it).
func TestPairTables(t *testing.T) {
	_, err := buildTables(pairCodeText, quadCodeText)
	require.NoError(t, err)
	for n, text := range pairCodeText {
		if text == "" {
			continue
		}
		codes, err := pairCodes(text, pairSize[n])
		require.NoError(t, err, "table %d", n)
		require.NoError(t, checkPrefixCode(codes), "table %d", n)
	}
}

// Random codes of up to 19-bit words, as long as the standard's, decode
// through lookup tables of any root width.
func TestHuffTableDecode(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]int, 256)
	for i := range vals {
		vals[i] = i
	}
	for _, root := range []int{1, 4, 8, 11} {
		codes := randomCode(rng, vals, 19)
		tab, err := newHuffTable(codes, root)
		require.NoError(t, err)
		m := byValue(codes)
		var w bitWriter
		var want []int
		for range 5000 {
			v := rng.IntN(256)
			want = append(want, v)
			w.code(m[v])
		}
		r := bitReader{b: w.b}
		for i, v := range want {
			require.Equal(t, v, tab.decode(&r), "root %d, word %d", root, i)
		}
		assert.Equal(t, w.n, r.pos)
	}
}

// testTables returns Huffman tables of random codes for every big values
// table, and the standard's count1 tables, with the codes by table.
func testTables(t testing.TB, rng *rand.Rand) (*huffTables, [25]map[int]huffCode) {
	ts, err := buildTables([25]string{}, quadCodeText)
	require.NoError(t, err)
	var byTable [25]map[int]huffCode
	for n, size := range pairSize {
		if size == 0 {
			continue
		}
		var vals []int
		for x := range size {
			for y := range size {
				vals = append(vals, x<<4|y)
			}
		}
		codes := randomCode(rng, vals, 19)
		tab, err := newHuffTable(codes, huffRoot)
		require.NoError(t, err)
		byTable[n] = byValue(codes)
		ts.pairs[n] = tab
		if n == 16 || n == 24 {
			for k := n + 1; k < n+8; k++ {
				ts.pairs[k] = tab
			}
		}
	}
	return ts, byTable
}

// codeTable is the table whose code words table_select uses.
func codeTable(sel int) int {
	switch {
	case sel >= 24:
		return 24
	case sel >= 16:
		return 16
	}
	return sel
}

// encodeSpectrum writes a granule's spectrum as the encoder does.
func encodeSpectrum(w *bitWriter, g *granuleInfo, byTable [25]map[int]huffCode, spec []int32) {
	quads := byValue(mustCodesNoT(quadCodeText[g.count1Table]))
	i := 0
	for ; i < 2*g.bigValues; i += 2 {
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
		lb := pairLinbits[sel]
		x, y := spec[i], spec[i+1]
		ax, ay := min(abs32(x), 15), min(abs32(y), 15)
		w.code(byTable[codeTable(sel)][int(ax<<4|ay)])
		for _, v := range []int32{x, y} {
			if lb > 0 && abs32(v) >= 15 {
				w.put(uint32(abs32(v)-15), lb)
			}
			if v != 0 {
				w.put(b2u(v < 0), 1)
			}
		}
	}
	for ; i+4 <= len(spec); i += 4 {
		q := 0
		for k := range 4 {
			if spec[i+k] != 0 {
				q |= 8 >> k
			}
		}
		w.code(quads[q])
		for k := range 4 {
			if spec[i+k] != 0 {
				w.put(b2u(spec[i+k] < 0), 1)
			}
		}
	}
}

func mustCodesNoT(text string) []huffCode {
	c, err := parseCodes(text)
	if err != nil {
		panic(err)
	}
	return c
}

func abs32(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

func b2u(b bool) uint32 {
	if b {
		return 1
	}
	return 0
}

// A granule's big values, in three regions of different tables (with
// and without linbits), and its count1 quadruples decode to what was
// coded.
func TestReadSpectrum(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	ts, byTable := testTables(t, rng)
	sels := []int{0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31}
	for iter := range 300 {
		g := granuleInfo{bigValues: rng.IntN(289), count1Table: rng.IntN(2)}
		for k := range 3 {
			g.tableSelect[k] = sels[rng.IntN(len(sels))]
		}
		bv := 2 * g.bigValues
		g.region1Start = 2 * rng.IntN(g.bigValues+1)
		g.region2Start = g.region1Start + 2*rng.IntN((bv-g.region1Start)/2+1)
		quads := rng.IntN((576-bv)/4 + 1)
		spec := make([]int32, bv+4*quads)
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
				top = 15 + 1<<lb - 1
			}
			v := rng.Int32N(top + 1)
			if rng.IntN(4) == 0 {
				v = top // the largest, often
			}
			if rng.IntN(2) == 0 {
				v = -v
			}
			spec[i] = v
		}
		for i := bv; i < len(spec); i++ {
			spec[i] = rng.Int32N(3) - 1
		}
		var w bitWriter
		w.put(0x2a, 7) // the granule starts mid-byte
		encodeSpectrum(&w, &g, byTable, spec)
		end := w.n
		w.put(0xffffff, 24) // the next granule's bits
		r := bitReader{b: w.b, pos: 7}
		var is [576]int32
		for i := range is {
			is[i] = 99
		}
		n, err := ts.readSpectrum(&r, &g, end, &is)
		require.NoError(t, err, "granule %d", iter)
		require.Equal(t, len(spec), n, "granule %d", iter)
		require.Equal(t, spec, is[:n], "granule %d", iter)
		require.Equal(t, make([]int32, 576-n), is[n:], "granule %d", iter)
		require.Equal(t, end, r.pos, "granule %d", iter)
	}
}

// A quadruple that runs past the granule's end is dropped; big values
// past it are an error.
func TestReadSpectrumOverrun(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	ts, byTable := testTables(t, rng)
	g := granuleInfo{bigValues: 4, tableSelect: [3]int{27, 27, 27}, region1Start: 8, region2Start: 8}
	spec := []int32{100, -3, 0, 7, 1, 1, -1, 0, 1, 1, 1, 1, 0, -1, 0, -1}
	var w bitWriter
	encodeSpectrum(&w, &g, byTable, spec[:12])
	last := w.n
	encodeSpectrum(&w, &granuleInfo{}, byTable, spec[12:])
	w.put(0, 16)
	var is [576]int32
	r := bitReader{b: w.b}
	n, err := ts.readSpectrum(&r, &g, last+1, &is)
	require.NoError(t, err)
	assert.Equal(t, 12, n)
	assert.Equal(t, spec[:12], is[:12])
	assert.Equal(t, make([]int32, 576-12), is[12:])

	r = bitReader{b: w.b}
	_, err = ts.readSpectrum(&r, &g, 5, &is)
	assert.ErrorIs(t, err, errMainData)

	g.tableSelect[0] = 4
	r = bitReader{b: w.b}
	_, err = ts.readSpectrum(&r, &g, last, &is)
	assert.ErrorIs(t, err, errNoTable)
}

// The word cache reads what bitReader reads, field by field, from any
// start, refilled as the spectrum's decoder refills it (by words inside
// the bytes, by bytes near their end), and zeros past the end; its
// position is bitReader's throughout.
func TestBitCache(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 200 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		start := rng.IntN(8*len(b) + 9)
		want := bitReader{b: b, pos: start}
		k := newBitCache(&bitReader{b: b, pos: start})
		require.Equal(t, start, k.pos())
		for range 40 {
			if rng.IntN(3) == 0 {
				k.refill()
			}
			if k.n < 24 {
				k.refill()
			}
			n := 1 + rng.IntN(min(int(k.n), 24))
			got := k.read(uint(n))
			require.Equal(t, uint32(want.read(n)), got, "%d bits at %d of %d bytes", n, want.pos-n, len(b))
			require.Equal(t, want.pos, k.pos())
		}
	}
}
