package codec_test

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
	"github.com/streamcatcher/streamcatcher/codec"
	"github.com/streamcatcher/streamcatcher/transform"
)

// wavPCM returns the samples of a WAV fixture and their format.
func wavPCM(t testing.TB, name string) ([]byte, transform.Format) {
	t.Helper()
	d := codec.NewWAVDecoder()
	pcm, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(fixture(t, name)), d))
	require.NoError(t, err)
	return pcm, d.Format()
}

// encode runs PCM through an OpusEncoder and a Framer in a Catcher and
// returns the framed stream and its index.
func encode(t testing.TB, pcm []byte, f transform.Format, opts ...codec.OpusOption) ([]byte, codec.Index) {
	t.Helper()
	enc, err := codec.NewOpusEncoder(f, opts...)
	require.NoError(t, err)
	c := catcher.New(bytes.NewReader(pcm), catcher.WithTransform(codec.NewFramer(enc)))
	defer c.Close()
	require.NoError(t, c.Load(context.Background()))
	framed, err := io.ReadAll(c.NewReader())
	require.NoError(t, err)
	st, _ := c.State()
	return framed, st.(codec.Index)
}

// decode decodes a framed stream as its index says.
func decode(t testing.TB, framed []byte, x codec.Index, channels int) ([]byte, *codec.OpusDecoder) {
	t.Helper()
	d, err := codec.NewOpusDecoder(channels, codec.WithPreSkip(x.PreSkip), codec.WithLength(x.Length))
	require.NoError(t, err)
	pcm, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(framed), d))
	require.NoError(t, err)
	return pcm, d
}

// snr is the signal-to-noise ratio in dB of got against ref over [from, to).
func snr(ref, got []float64, from, to int) float64 {
	var s, n float64
	for i := from; i < to; i++ {
		s += ref[i] * ref[i]
		e := got[i] - ref[i]
		n += e * e
	}
	return 10 * math.Log10(s/n)
}

func TestOpusToneSNR(t *testing.T) {
	pcm, f := wavPCM(t, "tone1k_s16_48000_2.wav")
	framed, x := encode(t, pcm, f, codec.WithBitrate(128000), codec.WithApplication(codec.AppAudio))
	assert.Equal(t, codec.PreSkip, x.PreSkip)
	assert.EqualValues(t, 48000, x.Length, "the true length")
	assert.Equal(t, 960, x.Uniform)
	assert.GreaterOrEqual(t, x.Samples, int64(48000+312), "the packets cover the pre-skip")
	out, _ := decode(t, framed, x, 2)
	require.Len(t, out, len(pcm), "exact length after the 312-sample delay is removed")
	for ch := range 2 {
		ref, got := channel(pcm, 2, ch), channel(out, 2, ch)
		// Skip the encoder's first 20 ms while it settles.
		s := snr(ref, got, 960, len(ref))
		t.Logf("channel %d: SNR %.1f dB", ch, s)
		assert.GreaterOrEqual(t, s, 35.0, "channel %d", ch)
	}
}

func TestOpusFrameSizes(t *testing.T) {
	pcm, f := wavPCM(t, "tone_s16_44100_1.wav") // 44100 samples, read as 48 kHz mono
	f.Rate = 48000
	for _, d := range []time.Duration{2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 60 * time.Millisecond} {
		t.Run(d.String(), func(t *testing.T) {
			if testing.Short() && d < 10*time.Millisecond {
				t.Skip("short")
			}
			framed, x := encode(t, pcm, f, codec.WithFrameDuration(d), codec.WithVBR(false), codec.WithBitrate(64000))
			size := int(d * 48000 / time.Second)
			assert.Equal(t, size, x.Uniform)
			assert.EqualValues(t, 44100, x.Length)
			assert.EqualValues(t, (44100+312+size-1)/size, x.Len(), "whole frames covering input and pre-skip")
			out, _ := decode(t, framed, x, 1)
			assert.Len(t, out, 44100*2)
			pr := codec.NewPacketReader(bytes.NewReader(framed))
			p, err := pr.ReadPacket()
			require.NoError(t, err)
			n, err := codec.PacketSamples(p)
			require.NoError(t, err)
			assert.Equal(t, size, n)
		})
	}
}

func TestOpusEncoderOptions(t *testing.T) {
	for name, tt := range map[string]struct {
		f    transform.Format
		opts []codec.OpusOption
	}{
		"44.1 kHz":   {transform.CD, nil},
		"3 channels": {transform.Format{Rate: 48000, Channels: 3}, nil},
		"float":      {transform.Format{Rate: 48000, Channels: 2, Encoding: transform.F32LE}, nil},
		"15 ms":      {transform.Opus, []codec.OpusOption{codec.WithFrameDuration(15 * time.Millisecond)}},
		"bitrate":    {transform.Opus, []codec.OpusOption{codec.WithBitrate(10)}},
		"app":        {transform.Opus, []codec.OpusOption{codec.WithApplication(7)}},
	} {
		_, err := codec.NewOpusEncoder(tt.f, tt.opts...)
		assert.ErrorIs(t, err, transform.ErrFormat, name)
	}
	enc, err := codec.NewOpusEncoder(transform.Opus, codec.WithApplication(codec.AppLowDelay))
	require.NoError(t, err)
	assert.Equal(t, codec.PreSkipLowDelay, enc.PreSkip())
}

func TestOpusPartialLastFrame(t *testing.T) {
	// 1001 stereo samples: the last packet is padded and the true length kept.
	pcm := make([]byte, 1001*4)
	framed, x := encode(t, pcm, transform.Opus)
	assert.EqualValues(t, 1001, x.Length)
	assert.Equal(t, 2, x.Len(), "1001 + 312 samples in 20 ms packets")
	out, _ := decode(t, framed, x, 2)
	assert.Len(t, out, 1001*4)
	// An input cut inside a sample.
	enc, err := codec.NewOpusEncoder(transform.Opus)
	require.NoError(t, err)
	_, err = io.ReadAll(catcher.NewTransformReader(bytes.NewReader(make([]byte, 4*960+3)), codec.NewFramer(enc)))
	assert.ErrorIs(t, err, codec.ErrTruncated)
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

func TestOpusOggProgram(t *testing.T) {
	// The fixture decoded through the Framer and the OpusDecoder: exact
	// length, tones, a sweep checked by spectrum, silence where it should be.
	data := fixture(t, "prog.opus")
	c, x := loadFramed(t, bytes.NewReader(data), codec.NewOggOpusDemuxer())
	framed, err := io.ReadAll(c.NewReader())
	require.NoError(t, err)
	out, d := decode(t, framed, x, 2)
	assert.Zero(t, d.Concealed())
	require.Len(t, out, 144000*4, "3 s exactly")
	for ch, tone := range []float64{440, 660} {
		x := channel(out, 2, ch)
		assert.InDelta(t, tone, spectrumPeak(x[48000:48000+4800], 48000, 100, 2000), 10, "tone of channel %d", ch)
		assert.Less(t, rms(x, 1000, 23000), 0.002, "leading silence")
		assert.Less(t, rms(x, 73000, 95000), 0.002, "middle silence")
		for _, tau := range []float64{0.1, 0.3, 0.5, 0.7, 0.9} {
			at := 96000 + int(tau*48000)
			want := 200 + 3800*tau // instantaneous frequency of the sweep
			got := spectrumPeak(x[at-512:at+512], 48000, 100, 5000)
			assert.InDelta(t, want, got, 100, "sweep at %.1f s of channel %d", 2+tau, ch)
		}
	}
}

func TestOpusConcealment(t *testing.T) {
	pcm, f := wavPCM(t, "tone1k_s16_48000_2.wav")
	framed, x := encode(t, pcm, f)
	// Break packet 10: code 3 (its TOC's low bits) with a frame count of 0
	// is invalid.
	off := x.Offsets[10]
	require.Greater(t, binary.LittleEndian.Uint16(framed[off:]), uint16(2))
	framed[off+codec.PrefixSize] |= 3
	framed[off+codec.PrefixSize+1] = 0
	out, d := decode(t, framed, x, 2)
	assert.Equal(t, 1, d.Concealed())
	assert.Len(t, out, len(pcm), "a concealed packet keeps its duration")
}

func TestWAVOpusOggExactLength(t *testing.T) {
	// WAV -> Opus -> Ogg -> Opus packets -> PCM: the length is exact to the
	// sample at every stage.
	pcm, f := wavPCM(t, "tone1k_s16_48000_2.wav")
	framed, x := encode(t, pcm, f)
	ogg, packets := framedToOgg(t, bytes.NewReader(framed), x, 48000)
	back := readOggOpus(t, bytes.NewReader(ogg))
	assert.EqualValues(t, 48000, back.length)
	assert.Equal(t, packets, back.packets)
	c, y := loadFramed(t, bytes.NewReader(ogg), codec.NewOggOpusDemuxer())
	assert.EqualValues(t, 48000, y.Length)
	framed2, err := io.ReadAll(c.NewReader())
	require.NoError(t, err)
	assert.Equal(t, framed, framed2, "the framed stream survives the Ogg round trip")
	out, _ := decode(t, framed2, y, 2)
	assert.Len(t, out, len(pcm))
}

func TestOpusSeekWithPreRoll(t *testing.T) {
	// Decoding from a seek, 80 ms of pre-roll dropped, matches decoding
	// from the start at that point.
	pcm, f := wavPCM(t, "tone1k_s16_48000_2.wav")
	framed, x := encode(t, pcm, f, codec.WithBitrate(128000))
	full, _ := decode(t, framed, x, 2)
	for _, pos := range []int64{0, 100, 24000, 40000} {
		i, drop := x.DecodeFrom(pos)
		assert.LessOrEqual(t, drop, int64(codec.PreRoll+960+x.PreSkip), "pos %d", pos)
		d, err := codec.NewOpusDecoder(2, codec.WithPreSkip(int(drop)), codec.WithLength(x.Length-pos))
		require.NoError(t, err)
		out, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(framed[x.Offsets[i]:]), d))
		require.NoError(t, err)
		require.Len(t, out, len(full)-int(pos)*4, "pos %d", pos)
		ref, got := channel(full[pos*4:], 2, 0), channel(out, 2, 0)
		// A fresh decoder converges geometrically (CELT predicts band
		// energies from frame to frame): after 80 ms it agrees with the
		// continuous decode to about 30 dB on this tone, after 160 ms to
		// about 55 dB.
		assert.GreaterOrEqual(t, snr(ref, got, 0, len(ref)), 25.0, "pos %d", pos)
	}
}
