package transform

import (
	"bytes"
	"io"
	"testing"

	"github.com/stretchr/testify/require"
)

// The stereo float path of produce writes the bytes of the general one,
// at every read size, with an exact bank (44.1 to 48 kHz) and with an
// interpolated one (which takes the general path either way).
func TestResamplerStereoFloatMatchesGeneral(t *testing.T) {
	in := make([]byte, 8*30000)
	x := uint32(1)
	for i := range len(in) / 4 {
		x = x*1664525 + 1013904223
		putF32(in[4*i:], float32(int32(x))/(1<<31)*0.9)
	}
	run := func(out int, fast bool, size int) []byte {
		prev := stereoFloatPath
		stereoFloatPath = fast
		defer func() { stereoFloatPath = prev }()
		r, err := NewResampler(Format{Rate: 44100, Channels: 2, Encoding: F32LE}, out, High)
		require.NoError(t, err)
		var got bytes.Buffer
		src := bytes.NewReader(in)
		dst := make([]byte, size)
		for {
			n, err := r.Transform(dst, src)
			got.Write(dst[:n])
			if err == io.EOF {
				return got.Bytes()
			}
			require.NoError(t, err)
		}
	}
	for _, out := range []int{48000, 48001} {
		for _, size := range []int{8, 8 * 7, 64 << 10} {
			want := run(out, false, size)
			require.Equal(t, want, run(out, true, size), "to %d Hz, reads of %d bytes", out, size)
		}
	}
}
