package mp3

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/transform"
)

// decodeWith decodes a whole MP3 with an engine, through reads of half
// the size asked: its PCM as float32 samples (go-mp3's 16-bit ones
// scaled to full scale 1), its channels as output, and its Info.
func decodeWith(t testing.TB, data []byte, e Engine) ([]float32, int, Info) {
	t.Helper()
	d := NewDecoder(WithEngine(e))
	b, err := io.ReadAll(catcher.NewTransformReader(iotest.HalfReader(bytes.NewReader(data)), d))
	require.NoError(t, err)
	info, f := d.Info(), d.Format()
	if e == GoMP3 {
		pcm := make([]float32, len(b)/2)
		for i := range pcm {
			pcm[i] = float32(int16(binary.LittleEndian.Uint16(b[2*i:]))) / 32768
		}
		return pcm, 2, info
	}
	require.Equal(t, transform.Format{Rate: info.SampleRate, Channels: info.Channels, Encoding: transform.F32LE}, f)
	require.Zero(t, len(b)%(4*info.Channels), "whole samples")
	pcm := make([]float32, len(b)/4)
	for i := range pcm {
		pcm[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return pcm, info.Channels, info
}

// goMP3Astray returns the audio frames (the Xing frame not counted) whose
// output go-mp3 may get wrong: those that hold, or follow by less than
// the filter banks' delay, a granule of mid/side stereo whose side
// channel codes nothing (part2_3_length 0) beside a mid channel of
// switched (start, short or stop) blocks. ffmpeg's decoder and ours agree
// there; go-mp3's right channel is off by up to 72 LSB of 16 bits on the
// fixtures (it seems to skip work on the side channel by its own lines
// before the stereo processing fills them).
func goMP3Astray(t *testing.T, name string) map[int]bool {
	astray := map[int]bool{}
	l := newLayer3()
	for i, f := range audioFrames(t, name) {
		_, _, err := l.prepare(f)
		require.NoError(t, err)
		if !l.mode.ms {
			continue
		}
		for gr := range l.mode.granules {
			g := &l.si.gr[gr]
			if g[1].part23Len == 0 && g[0].blockType != blockLong {
				for k := range 3 {
					astray[i+k] = true
				}
			}
		}
	}
	return astray
}

// goMP3Refuses names the fixtures go-mp3 does not decode: padded MPEG-2
// frames it mis-sizes, and MPEG-2.5.
var goMP3Refuses = map[string]bool{"prog_22050_32k.mp3": true, "prog_8000_mono.mp3": true}

// The Native decoder's output is go-mp3's, to go-mp3's 16-bit rounding,
// on every fixture go-mp3 decodes: the same length to the sample after
// the trimming, mono staying mono (go-mp3 duplicates it), at most 2 LSB
// of 16 bits off at any sample and about half an LSB RMS; except in the
// frames where go-mp3 goes astray (goMP3Astray), where only the RMS
// counts them.
func TestNativeMatchesGoMP3(t *testing.T) {
	for _, fx := range mp3Fixtures {
		if goMP3Refuses[fx.name] {
			continue // TestNativeMatchesFFmpeg
		}
		t.Run(fx.name, func(t *testing.T) {
			data := testutil.Fixture(t, fx.name)
			got, nch, info := decodeWith(t, data, Native)
			ref, _, refInfo := decodeWith(t, data, GoMP3)
			require.Equal(t, refInfo, info)
			require.Equal(t, fx.channels, nch, "mono stays mono")
			require.Equal(t, len(ref)/2, len(got)/nch, "samples per channel")
			if info.Length >= 0 {
				require.EqualValues(t, info.Length, len(got)/nch)
			}
			spf := 1152
			if info.Version != 1 {
				spf = 576
			}
			skip := decoderDelay + max(info.EncoderDelay, 0)
			astray := goMP3Astray(t, fx.name)
			var worst, sum, sumIn float64
			var in int // samples outside the frames astray
			astrayOff := map[int]bool{}
			for i := range len(got) / nch {
				frame := (i + int(skip)) / spf
				for ch := range nch {
					e := math.Abs(float64(got[nch*i+ch]) - float64(ref[2*i+ch]))
					sum += e * e
					if astray[frame] {
						if e > 2.0/32768 {
							astrayOff[frame] = true
						}
						continue
					}
					worst = max(worst, e)
					sumIn += e * e
					in++
					if e > 2.0/32768 {
						assert.Failf(t, "a sample off", "%s frame %d, sample %d (after the trimming), channel %d: %g; go-mp3 %g",
							fx.name, frame, i, ch, got[nch*i+ch], ref[2*i+ch])
						return
					}
				}
			}
			rms, rmsIn := math.Sqrt(sum/float64(len(got))), math.Sqrt(sumIn/float64(in))
			t.Logf("%s: %d samples of %d channel(s): outside the %d frames where go-mp3 may go astray (%d of them off), max abs diff %.3g (%.2f LSB of 16 bits), RMS %.3g (%.2f LSB); RMS of all %.3g",
				fx.name, len(got)/nch, nch, len(astray), len(astrayOff), worst, worst*32768, rmsIn, rmsIn*32768, rms)
			require.Positive(t, in)
			assert.Less(t, rmsIn, 1.0/32768)
		})
	}
}

// The fixtures go-mp3 refuses (padded MPEG-2 frames it mis-sizes, and
// MPEG-2.5) decode with the Native decoder as with ffmpeg's float
// decoder, to the accuracy ISO/IEC 11172-4 calls full (RMS under
// 2^-15/sqrt(12) of full scale, no sample off by 2^-14), over the last
// second of ffmpeg's output (testdata/make.sh), ending where ours ends;
// their frames have no room for a LAME tag, so only the decoder's own
// delay is trimmed from the start.
func TestNativeMatchesFFmpeg(t *testing.T) {
	for _, fx := range mp3Fixtures {
		if !goMP3Refuses[fx.name] {
			continue
		}
		t.Run(fx.name, func(t *testing.T) {
			data := testutil.Fixture(t, fx.name)
			_, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(data), NewDecoder(WithEngine(GoMP3))))
			require.ErrorIs(t, err, ErrUnsupported, "go-mp3 refuses it")

			got, nch, info := decodeWith(t, data, Native)
			require.Equal(t, 1, nch)
			require.EqualValues(t, -1, info.EncoderDelay, "no LAME tag")
			frames := audioFrames(t, fx.name)
			require.Len(t, got, len(frames)*576-decoderDelay, "every frame's samples, less the decoder's delay")

			b := testutil.Fixture(t, strings.TrimSuffix(fx.name, ".mp3")+"_ffmpeg_end.s24")
			require.Equal(t, 3*info.SampleRate, len(b), "one second")
			n := len(b) / 3
			tail := got[len(got)-n:]
			var worst, sum float64
			wi := 0
			for i := range n {
				v := int32(uint32(b[3*i])<<8|uint32(b[3*i+1])<<16|uint32(b[3*i+2])<<24) >> 8
				e := math.Abs(float64(tail[i]) - float64(v)/(1<<23))
				sum += e * e
				if e > worst {
					worst, wi = e, i
				}
			}
			rms := math.Sqrt(sum / float64(n))
			s := len(got) - n + wi
			t.Logf("%s: max abs diff %.3g at sample %d (frame %d), RMS %.3g (bounds %.3g, %.3g)",
				fx.name, worst, s, (s+decoderDelay)/576, rms, math.Exp2(-14), math.Exp2(-15)/math.Sqrt(12))
			assert.Less(t, worst, math.Exp2(-14), "sample %d (frame %d)", s, (s+decoderDelay)/576)
			assert.Less(t, rms, math.Exp2(-15)/math.Sqrt(12))
		})
	}
}

// Decoding with the Native decoder allocates nothing per frame, past a
// stream's first frames (the Frames' arrays are renewed every 64 frames
// from the 128th, so that published views stay unchanged; the fixtures
// are shorter).
func TestNativeNoAllocs(t *testing.T) {
	for _, name := range []string{"prog_cbr128.mp3", "prog_22050_joint.mp3", "prog_8000_mono.mp3"} {
		t.Run(name, func(t *testing.T) {
			src := bytes.NewReader(testutil.Fixture(t, name))
			d := NewDecoder(WithEngine(Native))
			dst := make([]byte, 1152*8)
			frames := func(n int64) {
				for to := d.frames + n; d.frames < to; {
					_, err := d.Transform(dst, src)
					require.NoError(t, err)
				}
			}
			frames(8)
			// AllocsPerRun runs f once more before it counts.
			n := int64(len(audioFrames(t, name))-10) / 2
			allocs := testing.AllocsPerRun(1, func() { frames(n) })
			t.Logf("%s: %v allocations in %d frames", name, allocs, n)
			require.Greater(t, n, int64(16))
			assert.Zero(t, allocs)
		})
	}
}

// publishedState keeps the states TestNativeDecodeGarbage reads.
var publishedState any

// A whole decode of the 3 s fixture, its state read after every call as
// a Catcher reads it, allocates the decoder's buffers once and, per
// frame, only the state that places it (a ChainState, its slice and its
// Frames: three allocations): no buffer per frame or per call, nor a
// state per call that places no new frame.
func TestNativeDecodeGarbage(t *testing.T) {
	const name = "prog_cbr128.mp3"
	data := testutil.Fixture(t, name)
	frames := uint64(len(audioFrames(t, name)))
	dst := make([]byte, 4096) // a frame takes about three calls
	decode := func() (calls uint64) {
		d := NewDecoder(WithEngine(Native))
		src := bytes.NewReader(data)
		for {
			_, err := d.Transform(dst, src)
			publishedState = d.State() // kept, as a Catcher keeps it
			calls++
			if err == io.EOF {
				return calls
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	decode() // the shared tables, made once
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	calls := decode()
	runtime.ReadMemStats(&m1)
	allocated, mallocs := m1.TotalAlloc-m0.TotalAlloc, m1.Mallocs-m0.Mallocs
	t.Logf("%d frames, %d calls: %d bytes in %d allocations", frames, calls, allocated, mallocs)
	require.Greater(t, calls, 2*frames)
	// The buffers: layer3 (about 48 KB), the walker's (32 KB), the
	// output's (a frame and the end's padding), the Decoder; the states
	// (about 100 bytes a frame). A buffer of 1 KB a frame would add 116.
	assert.Less(t, allocated, uint64(160<<10), "bytes allocated decoding %d frames", frames)
	assert.LessOrEqual(t, mallocs, 3*frames+32, "allocations decoding %d frames", frames)
}
