package mp3

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/testutil"
)

// audioFrames returns copies of the audio frames of an MP3 fixture (the
// Xing/Info frame left out).
func audioFrames(t *testing.T, name string) []frame {
	t.Helper()
	return framesOf(t, name, testutil.Fixture(t, name))
}

// framesOf is audioFrames of an MP3's bytes; name is for messages.
func framesOf(t *testing.T, name string, data []byte) []frame {
	t.Helper()
	m := walker{src: bytes.NewReader(data)}
	var out []frame
	for {
		f, junk, _, err := m.next()
		if err == io.EOF {
			break
		}
		require.NoError(t, err)
		require.Zero(t, junk, "%s: damage at frame %d", name, len(out))
		if len(out) == 0 {
			if _, ok := parseXing(f.h, f.data); ok {
				continue
			}
		}
		f.data = bytes.Clone(f.data)
		out = append(out, f)
	}
	return out
}

var mp3Fixtures = []struct {
	name     string
	version  int
	mode     int
	channels int
}{
	{"prog_cbr128.mp3", 1, modeJoint, 2},
	{"prog_vbr.mp3", 1, modeJoint, 2},
	{"prog_id3.mp3", 1, modeJoint, 2},
	{"prog_48000.mp3", 1, modeJoint, 2},
	{"prog_crc.mp3", 1, modeJoint, 2},
	{"prog_notag.mp3", 1, modeJoint, 2},
	{"prog_32000_dual.mp3", 1, modeDual, 2},
	{"prog_22050_mono.mp3", 2, modeMono, 1},
	{"prog_22050_32k.mp3", 2, modeMono, 1},
	{"prog_22050_joint.mp3", 2, modeJoint, 2},
	{"prog_8000_mono.mp3", 25, modeMono, 1},
}

// Every frame's side information and bit reservoir are consistent: each
// frame's main data starts where the data of the frames before it has
// ended or after, and its granules' part2_3_length end within the bytes
// received so far. A field read at a wrong bit offset, or a wrong side
// information size or reservoir, breaks that within a few frames.
func TestSideInfoFixtures(t *testing.T) {
	for _, fx := range mp3Fixtures {
		t.Run(fx.name, func(t *testing.T) {
			frames := audioFrames(t, fx.name)
			require.Greater(t, len(frames), 40)
			var l layer3
			var total, prevEnd int // bytes of main data received; bit where the last frame's granules ended
			blocks := map[int]int{}
			ms := 0
			for i, f := range frames {
				main, ok, err := l.prepare(f)
				require.NoError(t, err, "frame %d", i)
				require.True(t, ok, "frame %d: main data begins %d bytes back, %d held", i, l.si.mainDataBegin, total)
				m := l.mode
				assert.Equal(t, fx.version, f.h.version)
				require.Equal(t, fx.mode, m.mode, "frame %d", i)
				require.Equal(t, fx.channels, m.channels)
				own := f.h.mainDataSize()
				start := total - l.si.mainDataBegin
				require.Len(t, main, l.si.mainDataBegin+own)
				bits := 0
				for gr := range m.granules {
					for ch := range m.channels {
						g := l.si.gr[gr][ch]
						bits += g.part23Len
						blocks[g.blockType]++
						assert.LessOrEqual(t, g.region1Start, g.region2Start)
						assert.LessOrEqual(t, g.region2Start, 2*g.bigValues)
					}
				}
				if m.ms {
					ms++
				}
				assert.GreaterOrEqual(t, 8*start, prevEnd, "frame %d starts inside the data of the one before", i)
				total += own
				prevEnd = 8*start + bits
				assert.LessOrEqual(t, prevEnd, 8*total, "frame %d ends past the data received", i)
			}
			t.Logf("%d frames, block types %v, %d with mid/side", len(frames), blocks, ms)
			assert.Positive(t, blocks[blockLong])
			if fx.mode == modeJoint {
				assert.Positive(t, ms, "mid/side frames")
			}
		})
	}
}

// The fixtures hold every block type: start, short and stop windows
// around the program's onsets.
func TestSideInfoBlockTypes(t *testing.T) {
	var l layer3
	blocks := map[int]int{}
	for _, f := range audioFrames(t, "prog_cbr128.mp3") {
		_, _, err := l.prepare(f)
		require.NoError(t, err)
		for gr := range 2 {
			for ch := range 2 {
				blocks[l.si.gr[gr][ch].blockType]++
			}
		}
	}
	for _, bt := range []int{blockLong, blockStart, blockShort, blockStop} {
		assert.Positive(t, blocks[bt], "block type %d", bt)
	}
}

func TestCRC(t *testing.T) {
	frames := audioFrames(t, "prog_crc.mp3")
	for i, f := range frames {
		require.True(t, f.h.crc)
		require.True(t, crcOK(f.h, f.data), "frame %d", i)
	}
	f := frames[10]
	for _, tc := range []struct {
		name string
		at   int
		ok   bool
	}{
		{"header's bitrate", 2, false},
		{"side information", 6 + 20, false},
		{"check word", 5, false},
		{"main data", 6 + 32 + 5, true}, // not covered
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := bytes.Clone(f.data)
			b[tc.at] ^= 0x10
			assert.Equal(t, tc.ok, crcOK(f.h, b))
			var l layer3
			_, _, err := l.prepare(frame{h: f.h, data: b})
			if tc.ok {
				assert.NoError(t, err)
			} else {
				assert.ErrorIs(t, err, errCRC)
			}
		})
	}
	// A frame without CRC needs none.
	g := audioFrames(t, "prog_cbr128.mp3")[0]
	assert.True(t, crcOK(g.h, g.data))
}

func TestReservoir(t *testing.T) {
	var r reservoir
	fill := func(n int, v byte) []byte { return bytes.Repeat([]byte{v}, n) }

	data, ok := r.frame(0, fill(300, 1))
	require.True(t, ok)
	assert.Equal(t, fill(300, 1), data)
	_, ok = r.frame(301, fill(300, 2))
	assert.False(t, ok, "more than held")
	data, ok = r.frame(100, fill(400, 3))
	require.True(t, ok)
	assert.Equal(t, append(fill(100, 2), fill(400, 3)...), data)
	// Many frames: the last 511 bytes are always there.
	for i := range 50 {
		data, ok = r.frame(reservoirMax, fill(417, byte(10+i)))
		require.True(t, ok, "frame %d", i)
		require.Len(t, data, reservoirMax+417)
		assert.Equal(t, fill(417, byte(10+i)), data[reservoirMax:], "frame %d: its own", i)
		if i > 1 {
			assert.Equal(t, fill(417, byte(10+i-1)), data[reservoirMax-417:reservoirMax], "frame %d: the one before", i)
			assert.Equal(t, fill(reservoirMax-417, byte(10+i-2)), data[:reservoirMax-417], "frame %d: the one before that", i)
		}
	}
	r.reset()
	_, ok = r.frame(1, fill(100, 9))
	assert.False(t, ok, "after a reset")
	data, ok = r.frame(100, nil)
	require.True(t, ok)
	assert.Equal(t, fill(100, 9), data)
}

func TestSideInfoDamaged(t *testing.T) {
	f := audioFrames(t, "prog_cbr128.mp3")[20]
	// big_values (9 bits after part2_3_length, at bit 20+12 of the side
	// information of a stereo MPEG-1 frame) set to 511.
	b := bytes.Clone(f.data)
	r := bitReader{b: b[4:]}
	r.pos = 20 + 12
	require.LessOrEqual(t, r.read(9), 288)
	b[4+4] = 0xff  // bits 32-39 of the side information
	b[4+5] |= 0x80 // bit 40
	r.pos = 20 + 12
	require.Equal(t, 511, r.read(9))
	var l layer3
	_, _, err := l.prepare(frame{h: f.h, data: b})
	assert.ErrorIs(t, err, errSideInfo)
}

func TestBandTables(t *testing.T) {
	for i, b := range bandTable {
		assert.Equal(t, 576, b.long[22], "table %d", i)
		assert.Equal(t, 192, b.short[13], "table %d", i)
		for k := 1; k < 23; k++ {
			assert.Greater(t, b.long[k], b.long[k-1], "table %d long %d", i, k)
		}
		for k := 1; k < 14; k++ {
			assert.Greater(t, b.short[k], b.short[k-1], "table %d short %d", i, k)
		}
		// Band widths are even: Huffman pairs never straddle a band.
		for k := range 23 {
			assert.Zero(t, b.long[k]%2)
		}
	}
}

func TestBitReader(t *testing.T) {
	r := bitReader{b: []byte{0b10110011, 0b01011100, 0xff}}
	assert.Equal(t, 1, r.read(1))
	assert.Equal(t, 0b011, r.read(3))
	assert.Equal(t, 0b00110101, r.read(8))
	assert.Equal(t, 0b1100_1111_1111, r.read(12))
	assert.Equal(t, 0, r.read(10), "past the end: zeros")
	assert.Equal(t, 34, r.pos)
}
