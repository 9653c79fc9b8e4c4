package libopus_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math"
	"math/cmplx"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/libopus"
	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/codec/wav"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/transform"
)

// wavPCM returns the samples of a WAV fixture and their format.
func wavPCM(t testing.TB, name string) ([]byte, transform.Format) {
	t.Helper()
	d := wav.NewDecoder()
	pcm, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(testutil.Fixture(t, name)), d))
	require.NoError(t, err)
	return pcm, d.Format()
}

// encode runs PCM through an Encoder and a Framer in a Catcher and returns
// the loaded Catcher, its framed stream and its index.
func encode(t testing.TB, pcm []byte, f transform.Format, opts ...libopus.Option) (*catcher.Catcher, []byte, framed.Index) {
	t.Helper()
	enc, err := libopus.NewEncoder(f, opts...)
	require.NoError(t, err)
	c := catcher.New(bytes.NewReader(pcm), catcher.WithTransform(framed.NewFramer(enc)))
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Load(context.Background()))
	stream, err := io.ReadAll(c.NewReader())
	require.NoError(t, err)
	x, _, ok := catcher.StateOf[framed.Index](c)
	require.True(t, ok)
	return c, stream, x
}

// decode decodes a framed stream as its index says.
func decode(t testing.TB, stream []byte, x framed.Index, channels int) ([]byte, *libopus.Decoder) {
	t.Helper()
	d, err := libopus.NewDecoder(channels, libopus.WithPreSkip(x.PreSkip()), libopus.WithLength(x.DurationSamples()))
	require.NoError(t, err)
	pcm, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(stream), d))
	require.NoError(t, err)
	return pcm, d
}

// loadOgg loads an Ogg Opus file into a Catcher through a Framer.
func loadOgg(t testing.TB, data []byte) (*catcher.Catcher, framed.Index) {
	t.Helper()
	c := catcher.New(bytes.NewReader(data), catcher.WithTransform(framed.NewFramer(ogg.NewOpusDemuxer())))
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.Load(context.Background()))
	x, _, _ := catcher.StateOf[framed.Index](c)
	return c, x
}

// channel is testutil.Channel for s16le.
func channel(pcm []byte, channels, ch int) []float64 {
	return testutil.Channel(pcm, transform.S16LE, channels, ch)
}

func TestToneSNR(t *testing.T) {
	pcm, f := wavPCM(t, "tone1k_s16_48000_2.wav")
	_, stream, x := encode(t, pcm, f, libopus.WithBitrate(128000), libopus.WithApplication(libopus.AppAudio))
	assert.Equal(t, int64(libopus.PreSkip), x.PreSkip())
	assert.EqualValues(t, 48000, x.DurationSamples(), "the true length")
	assert.Equal(t, int64(960), x.Uniform())
	assert.GreaterOrEqual(t, x.DecodedSamples(), int64(48000+312), "the packets cover the pre-skip")
	out, _ := decode(t, stream, x, 2)
	require.Len(t, out, len(pcm), "exact length after the 312-sample delay is removed")
	for ch := range 2 {
		ref, got := channel(pcm, 2, ch), channel(out, 2, ch)
		// Skip the encoder's first 20 ms while it settles.
		s := testutil.SNR(ref, got, 960, len(ref))
		t.Logf("channel %d: SNR %.1f dB", ch, s)
		assert.GreaterOrEqual(t, s, 35.0, "channel %d", ch)
	}
}

func TestFrameSizes(t *testing.T) {
	pcm, f := wavPCM(t, "tone_s16_44100_1.wav") // 44100 samples, read as 48 kHz mono
	f.Rate = 48000
	for _, d := range []time.Duration{2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 60 * time.Millisecond} {
		t.Run(d.String(), func(t *testing.T) {
			if testing.Short() && d < 10*time.Millisecond {
				t.Skip("short")
			}
			c, stream, x := encode(t, pcm, f, libopus.WithFrameDuration(d), libopus.WithCBR(true), libopus.WithBitrate(64000))
			size := opus.Samples(d)
			assert.Equal(t, size, x.Uniform())
			assert.EqualValues(t, 44100, x.DurationSamples())
			assert.EqualValues(t, (44100+312+size-1)/size, x.Packets(), "whole frames covering input and pre-skip")
			out, _ := decode(t, stream, x, 1)
			assert.Len(t, out, 44100*2)
			p, err := framed.NewCursor(c).Next()
			require.NoError(t, err)
			n, err := opus.PacketSamples(p.Data)
			require.NoError(t, err)
			assert.Equal(t, size, n)
		})
	}
}

func TestEncoderOptions(t *testing.T) {
	for name, tt := range map[string]struct {
		f    transform.Format
		opts []libopus.Option
	}{
		"44.1 kHz":   {transform.Format{Rate: 44100, Channels: 2}, nil},
		"3 channels": {transform.Format{Rate: 48000, Channels: 3}, nil},
		"float":      {transform.Format{Rate: 48000, Channels: 2, Encoding: transform.F32LE}, nil},
		"15 ms":      {libopus.Format(2), []libopus.Option{libopus.WithFrameDuration(15 * time.Millisecond)}},
		"bitrate":    {libopus.Format(2), []libopus.Option{libopus.WithBitrate(10)}},
		"app":        {libopus.Format(2), []libopus.Option{libopus.WithApplication(7)}},
	} {
		_, err := libopus.NewEncoder(tt.f, tt.opts...)
		assert.ErrorIs(t, err, transform.ErrFormat, name)
	}
	enc, err := libopus.NewEncoder(libopus.Format(2), libopus.WithApplication(libopus.AppLowDelay))
	require.NoError(t, err)
	assert.Equal(t, int64(libopus.PreSkipLowDelay), enc.PreSkip())
	for d, want := range map[time.Duration]int{10 * time.Millisecond: 1276, 20 * time.Millisecond: 1276, 40 * time.Millisecond: 2553, 60 * time.Millisecond: 3831} {
		enc, err := libopus.NewEncoder(libopus.Format(2), libopus.WithFrameDuration(d))
		require.NoError(t, err)
		assert.Equal(t, want, enc.MaxPacketSize(), "%v", d)
		assert.Equal(t, framed.PrefixSize+want, framed.NewFramer(enc).MinSpace(), "the Framer's MinSpace is the encoder's largest record")
	}
}

func TestPartialLastFrame(t *testing.T) {
	// 1001 stereo samples: the last packet is padded and the true length kept.
	pcm := make([]byte, 1001*4)
	_, stream, x := encode(t, pcm, libopus.Format(2))
	assert.EqualValues(t, 1001, x.DurationSamples())
	assert.Equal(t, 2, x.Packets(), "1001 + 312 samples in 20 ms packets")
	out, _ := decode(t, stream, x, 2)
	assert.Len(t, out, 1001*4)
	// An input cut inside a sample.
	enc, err := libopus.NewEncoder(libopus.Format(2))
	require.NoError(t, err)
	_, err = io.ReadAll(catcher.NewTransformReader(bytes.NewReader(make([]byte, 4*960+3)), framed.NewFramer(enc)))
	assert.ErrorIs(t, err, transform.ErrPartialFrame)
}

// spectrumPeak returns the frequency of the largest DFT bin of x (Hann
// window), between lo and hi Hz.
func spectrumPeak(x []float64, rate int, lo, hi float64) float64 {
	n := len(x)
	best, bf := -1.0, 0.0
	for k := int(lo * float64(n) / float64(rate)); k <= int(hi*float64(n)/float64(rate)); k++ {
		var s complex128
		for i, v := range x {
			w := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/float64(n))
			s += complex(v*w, 0) * cmplx.Exp(complex(0, -2*math.Pi*float64(k*i)/float64(n)))
		}
		if a := cmplx.Abs(s); a > best {
			best, bf = a, float64(k)*float64(rate)/float64(n)
		}
	}
	return bf
}

func TestOggProgram(t *testing.T) {
	// The fixture decoded through the Framer and the OpusDecoder: exact
	// length, tones, a sweep checked by spectrum, silence where it should be.
	c, x := loadOgg(t, testutil.Fixture(t, "prog.opus"))
	stream, err := io.ReadAll(c.NewReader())
	require.NoError(t, err)
	out, d := decode(t, stream, x, 2)
	assert.Zero(t, d.Concealed())
	require.Len(t, out, 144000*4, "3 s exactly")
	for ch, tone := range []float64{440, 660} {
		x := channel(out, 2, ch)
		assert.InDelta(t, tone, spectrumPeak(x[48000:48000+4800], 48000, 100, 2000), 10, "tone of channel %d", ch)
		assert.Less(t, testutil.RMS(x, 1000, 23000), 0.002, "leading silence")
		assert.Less(t, testutil.RMS(x, 73000, 95000), 0.002, "middle silence")
		for _, tau := range []float64{0.1, 0.3, 0.5, 0.7, 0.9} {
			at := 96000 + int(tau*48000)
			want := 200 + 3800*tau // instantaneous frequency of the sweep
			got := spectrumPeak(x[at-512:at+512], 48000, 100, 5000)
			assert.InDelta(t, want, got, 100, "sweep at %.1f s of channel %d", 2+tau, ch)
		}
	}
}

func TestConcealment(t *testing.T) {
	pcm, f := wavPCM(t, "tone1k_s16_48000_2.wav")
	_, stream, x := encode(t, pcm, f)
	// Break packet 10: code 3 (its TOC's low bits) with a frame count of 0
	// is invalid.
	off := x.Entry(10).Offset
	require.Greater(t, binary.LittleEndian.Uint16(stream[off:]), uint16(2))
	stream[off+framed.PrefixSize] |= 3
	stream[off+framed.PrefixSize+1] = 0
	out, d := decode(t, stream, x, 2)
	assert.Equal(t, 1, d.Concealed())
	assert.Len(t, out, len(pcm), "a concealed packet keeps its duration")
}

func TestWAVOpusOggExactLength(t *testing.T) {
	// WAV -> Opus -> Ogg -> Opus packets -> PCM: the length is exact to the
	// sample at every stage.
	pcm, f := wavPCM(t, "tone1k_s16_48000_2.wav")
	c, stream, _ := encode(t, pcm, f)
	file, _ := testutil.FramedToOgg(t, c, 48000)
	c2, y := loadOgg(t, file)
	assert.EqualValues(t, 48000, y.DurationSamples())
	stream2, err := io.ReadAll(c2.NewReader())
	require.NoError(t, err)
	assert.Equal(t, stream, stream2, "the framed stream survives the Ogg round trip")
	out, _ := decode(t, stream2, y, 2)
	assert.Len(t, out, len(pcm))
}

func TestSeekWithPreRoll(t *testing.T) {
	// Decoding from a seek, 80 ms of pre-roll dropped, matches decoding
	// from the start at that point.
	pcm, f := wavPCM(t, "tone1k_s16_48000_2.wav")
	_, stream, x := encode(t, pcm, f, libopus.WithBitrate(128000))
	full, _ := decode(t, stream, x, 2)
	for _, pos := range []int64{0, 100, 24000, 40000} {
		i, drop := x.DecodeFrom(pos)
		assert.LessOrEqual(t, drop, opus.PreRoll+960+x.PreSkip(), "pos %d", pos)
		d, err := libopus.NewDecoder(2, libopus.WithPreSkip(drop), libopus.WithLength(x.DurationSamples()-pos))
		require.NoError(t, err)
		out, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(stream[x.Entry(i).Offset:]), d))
		require.NoError(t, err)
		require.Len(t, out, len(full)-int(pos)*4, "pos %d", pos)
		ref, got := channel(full[pos*4:], 2, 0), channel(out, 2, 0)
		// A fresh decoder converges geometrically (CELT predicts band
		// energies from frame to frame): after 80 ms it agrees with the
		// continuous decode to about 30 dB on this tone, after 160 ms to
		// about 55 dB.
		assert.GreaterOrEqual(t, testutil.SNR(ref, got, 0, len(ref)), 25.0, "pos %d", pos)
	}
}
