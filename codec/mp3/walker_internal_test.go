package mp3

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testFrame is MPEG-1 Layer III frame i of 128 kbit/s at 44.1 kHz, 417
// bytes (no padding), its body filled with 0x10+i.
func testFrame(i int) []byte {
	f := make([]byte, 417)
	copy(f, []byte{0xff, 0xfb, 0x90, 0x64})
	for j := 4; j < len(f); j++ {
		f[j] = byte(0x10 + i)
	}
	return f
}

// walked is what the walker finds: each frame by its body byte, and the
// junk reported.
type walked struct {
	frames []int
	junk   int64
	err    error
}

func walkAll(in []byte) walked {
	m := walker{src: bytes.NewReader(in)}
	var w walked
	for {
		f, junk, _, err := m.next()
		w.junk += junk
		if err != nil {
			if err != io.EOF {
				w.err = err
			}
			return w
		}
		w.frames = append(w.frames, int(f.data[10])-0x10)
	}
}

func frames(n int, edit func(i int, f []byte) []byte) []byte {
	var in []byte
	for i := range n {
		f := testFrame(i)
		if edit != nil {
			f = edit(i, f)
		}
		in = append(in, f...)
	}
	return in
}

// A frame cut short (a splice) is dropped, and the frame after it kept.
func TestWalkerSplice(t *testing.T) {
	in := frames(6, func(i int, f []byte) []byte {
		if i == 2 {
			return f[:200]
		}
		return f
	})
	w := walkAll(in)
	assert.Equal(t, []int{0, 1, 3, 4, 5}, w.frames)
	assert.Equal(t, int64(200), w.junk, "the cut frame is the damage")
	require.NoError(t, w.err)
}

func apeFooterOnlyTag() []byte {
	item := []byte{5, 0, 0, 0, 0, 0, 0, 0}
	item = append(item, "Title\x00Hello"...)
	f := []byte("APETAGEX")
	f = append(f, 0xd0, 0x07, 0, 0) // version 2000
	f = append(f, byte(len(item)+32), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0)
	f = append(f, make([]byte, 8)...)
	return append(item, f...)
}

func TestWalkerTrailers(t *testing.T) {
	clean := frames(4, nil)
	for _, tc := range []struct {
		name    string
		trailer []byte
		junk    bool
	}{
		{"zeros then an APE footer-only tag", append(make([]byte, 40), apeFooterOnlyTag()...), false},
		{"garbage spelling TAG", []byte("\x01\x02garbage TAG garbage"), true},
		{"garbage spelling ID3", []byte("\x01\x02garbageID3\x04\x00\x00\x01\x00\x00\x00 garbage"), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := walkAll(append(bytes.Clone(clean), tc.trailer...))
			assert.Equal(t, []int{0, 1, 2, 3}, w.frames)
			assert.NoError(t, w.err, "no false truncation")
			assert.Equal(t, tc.junk, w.junk > 0)
		})
	}
}

// Damage that spells an ID3v2 header does not swallow the frames after it.
func TestWalkerID3InDamage(t *testing.T) {
	in := frames(3, nil)
	in = append(in, "\x01\x02noiseID3\x04\x00\x00\x00\x00\x7f\x7f"...) // a 2 MB tag, says the noise
	for i := 3; i < 40; i++ {
		in = append(in, testFrame(i)...)
	}
	w := walkAll(in)
	require.NoError(t, w.err)
	assert.Len(t, w.frames, 40)
	assert.Positive(t, w.junk)
	assert.False(t, errors.Is(w.err, io.ErrUnexpectedEOF))
}
