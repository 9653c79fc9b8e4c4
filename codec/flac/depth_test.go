package flac_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	mflac "github.com/mewkiz/flac"
	"github.com/mewkiz/flac/frame"
	"github.com/mewkiz/flac/meta"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/transform"
)

// encode writes a FLAC stream of verbatim frames of block samples holding
// the given samples (one slice a channel), with mewkiz/flac's encoder.
func encode(t *testing.T, rate, bits, block int, samples [][]int32) []byte {
	t.Helper()
	n := len(samples[0])
	var buf bytes.Buffer
	info := &meta.StreamInfo{BlockSizeMin: uint16(block), BlockSizeMax: uint16(block), SampleRate: uint32(rate),
		NChannels: uint8(len(samples)), BitsPerSample: uint8(bits), NSamples: uint64(n)}
	enc, err := mflac.NewEncoder(&buf, info)
	require.NoError(t, err)
	for at := 0; at < n; at += block {
		end := min(n, at+block)
		f := &frame.Frame{Header: frame.Header{HasFixedBlockSize: true, BlockSize: uint16(end - at), SampleRate: uint32(rate),
			Channels: frame.Channels(len(samples) - 1), BitsPerSample: uint8(bits), Num: uint64(at / block)}}
		for _, ch := range samples {
			f.Subframes = append(f.Subframes, &frame.Subframe{SubHeader: frame.SubHeader{Pred: frame.PredVerbatim},
				Samples: ch[at:end], NSamples: end - at})
		}
		require.NoError(t, enc.WriteFrame(f))
	}
	require.NoError(t, enc.Close())
	return buf.Bytes()
}

// Every depth becomes s16 or s24, shifted to fill the sample; up to 8
// channels are interleaved as they are.
func TestDepthsAndChannels(t *testing.T) {
	for _, tc := range []struct {
		bits, channels int
		enc            transform.Encoding
	}{
		{8, 1, transform.S16LE}, {12, 2, transform.S16LE}, {16, 3, transform.S16LE},
		{20, 6, transform.S24LE}, {24, 8, transform.S24LE},
	} {
		t.Run(fmt.Sprintf("%d bits %d channels", tc.bits, tc.channels), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tc.bits), uint64(tc.channels)))
			const n = 1000
			samples := make([][]int32, tc.channels)
			for c := range samples {
				samples[c] = make([]int32, n)
				for j := range samples[c] {
					samples[c][j] = int32(rng.Int64N(1<<tc.bits) - 1<<(tc.bits-1))
				}
			}
			in := encode(t, 32000, tc.bits, 192, samples)
			pcm, d, err := decode(t, in, 10)
			require.NoError(t, err)
			f := transform.Format{Rate: 32000, Channels: tc.channels, Encoding: tc.enc}
			require.Equal(t, f, d.Format())
			require.Len(t, pcm, n*f.BytesPerFrame())
			bps := tc.enc.BytesPerSample()
			for j := 0; j < n; j++ {
				for c := range tc.channels {
					b := pcm[(j*tc.channels+c)*bps:]
					v := int64(samples[c][j])
					var got, want int64
					switch tc.enc {
					case transform.S16LE:
						got, want = int64(int16(binary.LittleEndian.Uint16(b))), v<<(16-tc.bits)
					default:
						got, want = int64(int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24)>>8), v<<(24-tc.bits)
					}
					if got != want {
						t.Fatalf("sample %d channel %d: got %d; want %d", j, c, got, want)
					}
				}
			}
		})
	}
}
