package webm

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUnlace splits hand-made laced blocks (the data after the flags).
func TestUnlace(t *testing.T) {
	for _, c := range []struct {
		name   string
		lacing byte
		data   []byte
		want   [][]byte
		err    bool
	}{
		{"none", 0, []byte{1, 2, 3}, [][]byte{{1, 2, 3}}, false},
		{"xiph", 1, []byte{
			2,    // 3 frames
			1,    // first: 1 byte
			2,    // second: 2 bytes
			9,    // the first
			8, 8, // the second
			7, 7, 7, // the last: what is left
		}, [][]byte{{9}, {8, 8}, {7, 7, 7}}, false},
		{"xiph 255", 1, append([]byte{1, 255, 0}, make([]byte, 256)...), [][]byte{make([]byte, 255), {0}}, false},
		{"ebml", 3, []byte{
			2,    // 3 frames
			0x82, // first: 2 bytes
			0xBE, // second: 2 - 1 (0x3F-1 is -1: 1 byte biased by 63)
			5, 5, // the first
			6,    // the second
			4, 4, // the last
		}, [][]byte{{5, 5}, {6}, {4, 4}}, false},
		{"ebml one frame", 3, []byte{0, 1, 2}, [][]byte{{1, 2}}, false},
		{"fixed", 2, []byte{2, 1, 1, 2, 2, 3, 3}, [][]byte{{1, 1}, {2, 2}, {3, 3}}, false},
		{"fixed uneven", 2, []byte{1, 1, 2, 3}, nil, true},
		{"xiph past the end", 1, []byte{1, 200, 1}, nil, true},
		{"xiph sizes cut", 1, []byte{1, 255}, nil, true},
		{"ebml past the end", 3, []byte{1, 0x90, 1}, nil, true},
		{"ebml negative", 3, []byte{2, 0x81, 0x80, 1, 1}, nil, true},
		{"empty", 1, nil, nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := unlace(c.data, c.lacing, nil)
			if c.err {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

// TestVint reads hand-made headers: IDs, sizes, unknown sizes, and bad
// first bytes.
func TestVint(t *testing.T) {
	r := newReader(bytes.NewReader([]byte{
		0x1A, 0x45, 0xDF, 0xA3, 0x84, // EBML, 4 bytes
		0xEC, 0xFF, // Void, unknown size (1 byte, all ones)
		0xA3, 0x40, 0x02, // SimpleBlock, 2 bytes in a 2-byte size
		0xEC, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, // Void, unknown size (8 bytes)
		0x08, // an ID of 5 bytes: invalid
	}), 100)
	for _, want := range []header{
		{id: idEBML, size: 4, off: 100, data: 105},
		{id: idVoid, size: unknownSize, off: 105, data: 107},
		{id: idSimpleBlock, size: 2, off: 107, data: 110},
		{id: idVoid, size: unknownSize, off: 110, data: 119},
	} {
		h, err := r.next()
		require.NoError(t, err)
		assert.Equal(t, want, h)
	}
	_, err := r.next()
	assert.ErrorIs(t, err, ErrCorrupt)
	_, err = newReader(bytes.NewReader([]byte{0x1A, 0x45}), 0).next()
	assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	_, err = newReader(bytes.NewReader(nil), 0).next()
	assert.Equal(t, io.EOF, err)
	_, err = newReader(bytes.NewReader([]byte{0xEC, 0x00}), 0).next()
	assert.ErrorIs(t, err, ErrCorrupt, "a size's first byte 0")
}

// errEnd is what FuzzEBML's walk returns to stop early.
var errEnd = errors.New("webm: end of walk")

// FuzzEBML walks any input as EBML, into the masters the demuxer reads:
// no panic, the offset only goes forward and never past the input, leaf
// values bounded, and every error is the package's or a cut.
func FuzzEBML(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	masters := map[uint32]bool{idEBML: true, idSegment: true, idSeekHead: true, idSeek: true, idInfo: true,
		idTracks: true, idTrackEntry: true, idAudio: true, idTags: true, idTag: true, idSimpleTag: true,
		idCluster: true, idBlockGroup: true, idCues: true, idCuePoint: true, idCueTrackPositions: true}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		r := newReader(bytes.NewReader(data), 0)
		var walk func(h header, depth int) error
		walk = func(h header, depth int) error {
			if depth > 16 {
				return errEnd
			}
			if masters[h.id] && h.size != unknownSize {
				return r.children(h, func(c header) error { return walk(c, depth+1) })
			}
			if h.size == unknownSize {
				return errEnd
			}
			if h.size <= 8 {
				_, err := r.uint(h)
				return err
			}
			p, err := r.bytes(h, maxString)
			if err == nil {
				assert.LessOrEqual(t, len(p), maxString)
			}
			if errors.Is(err, ErrCorrupt) {
				return r.skip(h.size)
			}
			return err
		}
		last := int64(0)
		for {
			h, err := r.next()
			if err == nil {
				err = walk(h, 0)
			}
			require.GreaterOrEqual(t, r.off, last, "the offset goes back")
			require.LessOrEqual(t, r.off, int64(len(data)), "the offset past the input")
			last = r.off
			if err == io.EOF || errors.Is(err, errEnd) {
				return
			}
			if err != nil {
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("error of no known kind: %v", err)
				}
				return
			}
		}
	})
}
