package mp3

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tablesPresent reports whether the standard's Huffman tables that a
// granule's big values use are all present.
func tablesPresent(ts *huffTables, g *granuleInfo) bool {
	stops := [3]int{g.region1Start, g.region2Start, 2 * g.bigValues}
	from := 0
	for k, stop := range stops {
		if stop > from && g.tableSelect[k] != 0 && ts.pairs[g.tableSelect[k]] == nil {
			return false
		}
		from = max(from, stop)
	}
	return true
}

// Every granule of the fixtures decodes to exactly its part2_3_length: its scale factors, big
// values and count1 quadruples end where the encoder's did. A wrong code
// word, or a scale factor or region read wrong, would take the decoding
// out of step.
func TestFixtureGranules(t *testing.T) {
	ts := stdTables()
	checked, coded := 0, 0 // granules, and those with Huffman code
	for _, fx := range mp3Fixtures {
		l := newLayer3()
		for i, f := range audioFrames(t, fx.name) {
			main, ok, err := l.prepare(f)
			require.NoError(t, err)
			require.True(t, ok)
			r := bitReader{b: main}
			for gr := range l.mode.granules {
				for ch := range l.mode.channels {
					g := &l.si.gr[gr][ch]
					start := r.pos
					end := start + g.part23Len
					require.True(t, tablesPresent(ts, g), "%s frame %d granule %d channel %d: tables %v", fx.name, i, gr, ch, g.tableSelect)
					b := bandsFor(f.h.rate)
					if l.mode.lsf {
						readScalefacsLSF(&r, g, l.mode.is && ch == 1, b, &l.sf[ch])
					} else {
						readScalefacsV1(&r, g, &l.si.scfsi[ch], gr, b, &l.sf[ch])
					}
					_, err := ts.readSpectrum(&r, g, end, &l.is)
					require.NoError(t, err, "%s frame %d granule %d channel %d", fx.name, i, gr, ch)
					require.Equal(t, end, r.pos, "%s frame %d granule %d channel %d", fx.name, i, gr, ch)
					checked++
					if r.pos > start {
						coded++
					}
				}
			}
		}
	}
	t.Logf("%d granules checked, %d of them with Huffman code", checked, coded)
	assert.Positive(t, coded)
}
