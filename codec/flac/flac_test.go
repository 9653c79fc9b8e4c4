package flac_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	"github.com/mewkiz/flac/frame"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/flac"
	"github.com/streamcatcher/streamcatcher/codec/wav"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/transform"
)

// fixture is a FLAC fixture and the WAV it was made from.
type fixture struct {
	file, wav string
	format    transform.Format
	bits      int
	length    int64
	seekTable bool
}

var fixtures = []fixture{
	{"tone_s16_44100_1.flac", "tone_s16_44100_1.wav", transform.Format{Rate: 44100, Channels: 1, Encoding: transform.S16LE}, 16, 11025, true},
	{"tone1k_s16_48000_2.flac", "tone1k_s16_48000_2.wav", transform.Format{Rate: 48000, Channels: 2, Encoding: transform.S16LE}, 16, 12000, true},
	{"tone1k_s16_48000_2_noseek.flac", "tone1k_s16_48000_2.wav", transform.Format{Rate: 48000, Channels: 2, Encoding: transform.S16LE}, 16, 12000, false},
	{"tone_s24_44100_2.flac", "tone_s24_44100_2.wav", transform.Format{Rate: 44100, Channels: 2, Encoding: transform.S24LE}, 24, 4410, true},
	{"tone_u8_22050_1.flac", "tone_u8_22050_1.wav", transform.Format{Rate: 22050, Channels: 1, Encoding: transform.S16LE}, 8, 5512, true},
}

// wavPCM decodes a WAV fixture.
func wavPCM(t testing.TB, name string) []byte {
	t.Helper()
	pcm, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(testutil.Fixture(t, name)), wav.NewDecoder()))
	require.NoError(t, err)
	return pcm
}

// choppy returns reads of random sizes from 1 to max.
type choppy struct {
	r   io.Reader
	rng *rand.Rand
	max int
}

func (c *choppy) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), 1+c.rng.IntN(c.max))])
}

// decode decodes in whole, reading it in random sizes, and returns the
// PCM, the decoder and the error that ended the stream (nil for io.EOF).
func decode(t testing.TB, in []byte, seed uint64) ([]byte, *flac.Decoder, error) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	d := flac.NewDecoder()
	r := catcher.NewTransformReader(&choppy{r: bytes.NewReader(in), rng: rng, max: 700}, d)
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf[:d.MinSpace()+rng.IntN(len(buf)-d.MinSpace())])
		out = append(out, buf[:n]...)
		if err == io.EOF {
			return out, d, nil
		}
		if err != nil {
			return out, d, err
		}
	}
}

func TestFixtures(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			pcm, d, err := decode(t, testutil.Fixture(t, fx.file), 1)
			require.NoError(t, err)
			info := d.Info()
			assert.Equal(t, fx.format, info.Format)
			assert.Equal(t, fx.format, d.Format())
			assert.Equal(t, fx.bits, info.Bits)
			assert.Equal(t, fx.length, info.Length)
			assert.Equal(t, info, d.State())
			want := wavPCM(t, fx.wav)
			require.EqualValues(t, fx.format.Bytes(fx.length), len(pcm), "the STREAMINFO's length, exactly")
			require.True(t, bytes.Equal(want[:len(pcm)], pcm), "samples differ from the WAV's")
		})
	}
}

func TestReadInfoThenTransform(t *testing.T) {
	in := testutil.Fixture(t, "tone1k_s16_48000_2.flac")
	r := iotest.OneByteReader(bytes.NewReader(in))
	d := flac.NewDecoder()
	assert.Nil(t, d.State(), "no state before the header")
	info, err := d.ReadInfo(r)
	require.NoError(t, err)
	assert.Equal(t, 48000, info.SampleRate)
	assert.Equal(t, 2, info.Channels)
	assert.Equal(t, 1024, info.MaxBlock)
	pcm, err := io.ReadAll(catcher.NewTransformReader(r, d))
	require.NoError(t, err)
	assert.EqualValues(t, 12000*4, len(pcm))
}

func TestTransformReader(t *testing.T) {
	in := testutil.Fixture(t, "tone_s24_44100_2.flac")
	want, _, err := decode(t, in, 2)
	require.NoError(t, err)
	require.NoError(t, iotest.TestReader(catcher.NewTransformReader(bytes.NewReader(in), flac.NewDecoder()), want))
}

func TestSeekTable(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			in := testutil.Fixture(t, fx.file)
			_, d, err := decode(t, in, 3)
			require.NoError(t, err)
			info := d.Info()
			if !fx.seekTable {
				assert.Nil(t, info.SeekTable)
				_, _, ok := info.Locate(0)
				assert.False(t, ok, "no seek table")
				return
			}
			require.NotEmpty(t, info.SeekTable)
			assert.EqualValues(t, 0, info.SeekTable[0].Sample)
			assert.EqualValues(t, 0, info.SeekTable[0].Offset)
			// Each point names a frame header that starts with its sample.
			for _, p := range info.SeekTable {
				at := info.FramesAt + p.Offset
				require.Less(t, at, int64(len(in)))
				f, err := frame.New(bytes.NewReader(in[at:]))
				require.NoError(t, err, "frame at %d", at)
				first := f.Num // a variable block size: the first sample
				if f.HasFixedBlockSize {
					first *= uint64(info.MaxBlock) // the frame number
				}
				assert.EqualValues(t, p.Sample, first, "point at %d", at)
				assert.EqualValues(t, p.Samples, f.BlockSize)
			}
			// Locate picks the last point at or before the sample.
			last := info.SeekTable[len(info.SeekTable)-1]
			for _, s := range []int64{0, 1, last.Sample, last.Sample + 1, fx.length - 1} {
				at, first, ok := info.Locate(s)
				require.True(t, ok, "sample %d", s)
				assert.LessOrEqual(t, first, s)
				var want flac.SeekPoint
				for _, p := range info.SeekTable {
					if p.Sample <= s {
						want = p
					}
				}
				assert.Equal(t, want.Sample, first, "sample %d", s)
				assert.Equal(t, info.FramesAt+want.Offset, at, "sample %d", s)
			}
			_, _, ok := info.Locate(fx.length)
			assert.False(t, ok, "past the end")
			_, _, ok = info.Locate(-1)
			assert.False(t, ok, "before the start")
		})
	}
}

// The seek table as flac 1.4.2 wrote it, as metaflac --list shows it.
func TestSeekTableKnown(t *testing.T) {
	_, d, err := decode(t, testutil.Fixture(t, "tone_s24_44100_2.flac"), 4)
	require.NoError(t, err)
	assert.Equal(t, []flac.SeekPoint{{0, 0, 1152}, {1152, 2511, 1152}, {2304, 5022, 1152}, {3456, 7511, 954}}, d.Info().SeekTable,
		"placeholders left out")
}

// id3v2 returns an ID3v2.4 tag of n bytes of zeros (padding) after its
// header.
func id3v2(n int) []byte {
	return append([]byte{'I', 'D', '3', 4, 0, 0, byte(n >> 21 & 0x7f), byte(n >> 14 & 0x7f), byte(n >> 7 & 0x7f), byte(n & 0x7f)}, make([]byte, n)...)
}

func TestID3v2Before(t *testing.T) {
	in := testutil.Fixture(t, "tone_s16_44100_1.flac")
	plain, d0, err := decode(t, in, 5)
	require.NoError(t, err)
	tag := id3v2(3000)
	pcm, d, err := decode(t, append(tag, in...), 5)
	require.NoError(t, err)
	assert.True(t, bytes.Equal(plain, pcm))
	assert.Equal(t, d0.Info().FramesAt+int64(len(tag)), d.Info().FramesAt)
}

func TestTruncated(t *testing.T) {
	in := testutil.Fixture(t, "tone1k_s16_48000_2.flac")
	full, d0, err := decode(t, in, 6)
	require.NoError(t, err)
	framesAt := int(d0.Info().FramesAt)
	for _, cut := range []int{0, 3, 20, framesAt - 1, framesAt, framesAt + 1, framesAt + 700, len(in) / 2, len(in) - 1} {
		t.Run(fmt.Sprint(cut), func(t *testing.T) {
			pcm, _, err := decode(t, in[:cut], 6)
			require.Error(t, err)
			assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
			assert.True(t, bytes.Equal(full[:len(pcm)], pcm), "what was decoded is the start of the whole")
			assert.Zero(t, len(pcm)%4, "whole frames")
			if cut >= framesAt+700 {
				assert.NotEmpty(t, pcm, "the frames before the cut")
			}
		})
	}
	// Cut at a frame boundary: fewer samples than announced.
	_, _, err = decode(t, in[:framesAt], 6)
	assert.ErrorContains(t, err, "of the 12000 the STREAMINFO announces")
}

func TestCorrupt(t *testing.T) {
	in := testutil.Fixture(t, "tone1k_s16_48000_2.flac")
	full, d0, err := decode(t, in, 8)
	require.NoError(t, err)
	at := int(d0.Info().FramesAt) + len(in)/2
	bad := bytes.Clone(in)
	for i := at; i < at+40; i++ {
		bad[i] ^= 0x5a
	}
	pcm, _, err := decode(t, bad, 8)
	require.ErrorIs(t, err, flac.ErrCorrupt)
	assert.ErrorContains(t, err, "frame at offset")
	assert.NotEmpty(t, pcm, "the frames before the damage")
	assert.Less(t, len(pcm), len(full))
	assert.True(t, bytes.Equal(full[:len(pcm)], pcm), "what was decoded is the start of the whole")
}

func TestBadHeaders(t *testing.T) {
	in := testutil.Fixture(t, "tone_u8_22050_1.flac")
	streamInfo := func(edit func(b []byte)) []byte {
		b := bytes.Clone(in)
		edit(b[8 : 8+34])
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want error
		msg  string
	}{
		{"empty", nil, io.ErrUnexpectedEOF, "empty input"},
		{"text", []byte("This is a plain text file, not audio."), flac.ErrNotFLAC, `found "This"`},
		{"MP3 behind ID3", append(id3v2(10), 0xff, 0xfb, 0x90, 0x64), flac.ErrNotFLAC, "no fLaC marker at offset 20"},
		{"ID3 cut", id3v2(100)[:50], io.ErrUnexpectedEOF, "inside the ID3v2 tag"},
		{"no STREAMINFO first", append([]byte("fLaC\x04\x00\x00\x08"), make([]byte, 8)...), flac.ErrNotFLAC, "not STREAMINFO"},
		{"STREAMINFO size", append([]byte("fLaC\x00\x00\x00\x10"), make([]byte, 16)...), flac.ErrNotFLAC, "STREAMINFO of 16 bytes"},
		{"rate 0", streamInfo(func(b []byte) { b[10], b[11], b[12] = 0, 0, b[12]&0x0f }), flac.ErrUnsupported, "sample rate of 0"},
		{"3 bits", streamInfo(func(b []byte) { b[12] &^= 1; b[13] = b[13]&0x0f | 2<<4 }), flac.ErrUnsupported, "3 bits a sample"},
		{"32 bits", testutil.Fixture(t, "tone_s32_8000_1.flac"), flac.ErrUnsupported, "32 bits a sample"},
		{"seek table size", append(bytes.Clone(in[:42]), 0x83, 0, 0, 17), flac.ErrCorrupt, "not a multiple of 18"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pcm, _, err := decode(t, tt.in, 9)
			assert.Empty(t, pcm)
			require.ErrorIs(t, err, tt.want)
			assert.ErrorContains(t, err, tt.msg)
		})
	}
}

// errSource fails after its bytes.
type errSource struct{ r io.Reader }

var errSrc = errors.New("source failed")

func (e *errSource) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		return n, errSrc
	}
	return n, err
}

func TestSourceError(t *testing.T) {
	in := testutil.Fixture(t, "tone_s16_44100_1.flac")
	for _, cut := range []int{2, 30, len(in) / 2} {
		d := flac.NewDecoder()
		_, err := io.ReadAll(catcher.NewTransformReader(&errSource{bytes.NewReader(in[:cut])}, d))
		assert.ErrorIs(t, err, errSrc, "cut at %d", cut)
	}
}

// TestSeek: a decoder from Seek gives the stream's PCM from the frame of
// the seek point it names, to the same end.
func TestSeek(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(fx.file, func(t *testing.T) {
			in := testutil.Fixture(t, fx.file)
			if !fx.seekTable {
				_, _, err := flac.Seek(bytes.NewReader(in), 100)
				assert.ErrorIs(t, err, flac.ErrNoSeekTable)
				return
			}
			full, d, err := decode(t, in, 5)
			require.NoError(t, err)
			bpf := int64(d.Format().BytesPerFrame())
			points := 0
			for _, s := range []int64{0, 1, fx.length / 3, fx.length / 2, fx.length - 1} {
				r := bytes.NewReader(in)
				sd, first, err := flac.Seek(r, s)
				require.NoError(t, err, "sample %d", s)
				require.LessOrEqual(t, first, s)
				if first > 0 {
					points++
				}
				got, err := io.ReadAll(catcher.NewTransformReader(r, sd))
				require.NoError(t, err, "sample %d", s)
				assert.True(t, bytes.Equal(full[first*bpf:], got), "sample %d: the PCM from sample %d on (%d bytes, want %d)", s, first, len(got), int64(len(full))-first*bpf)
			}
			if len(d.Info().SeekTable) > 1 {
				assert.Positive(t, points, "some seek lands after the first frame")
			}
			_, _, err = flac.Seek(bytes.NewReader(in), fx.length)
			assert.ErrorIs(t, err, flac.ErrUnsupported, "past the end")
		})
	}
}
