//go:build cgo

package pipeline_test

import (
	"bytes"
	"io"
	"math"
	"testing"
	"time"

	mflac "github.com/mewkiz/flac"
	"github.com/mewkiz/flac/frame"
	"github.com/mewkiz/flac/meta"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/wav"
	"github.com/streamcatcher/streamcatcher/transform"
)

// toneAt is the program of the long WAV and FLAC sources: on each
// channel, a tone that changes frequency and level every 250 ms, so that
// audio at one place is told from audio at another.
func toneAt(i, rate, ch int) float64 {
	b := i / (rate / 4)
	f := 200 + float64((b*37+ch*11)%40)*50
	a := 0.2 + 0.1*float64((b*7+ch)%4)
	return a * math.Sin(2*math.Pi*f*float64(i)/float64(rate))
}

// longWAV is a WAV of d: stereo s16 at rate, the program of toneAt.
func longWAV(t testing.TB, d time.Duration, rate int) []byte {
	t.Helper()
	n := int(d.Seconds() * float64(rate))
	f := transform.Format{Rate: rate, Channels: 2, Encoding: transform.S16LE}
	var out bytes.Buffer
	w, err := wav.NewWriter(&out, f, wav.WithLength(int64(n)))
	require.NoError(t, err)
	buf := make([]byte, 0, 4*rate)
	for i := range n {
		for ch := range 2 {
			v := int16(math.Round(toneAt(i, rate, ch) * 32767))
			buf = append(buf, byte(v), byte(v>>8))
		}
		if len(buf) == cap(buf) || i == n-1 {
			_, err := w.Write(buf)
			require.NoError(t, err)
			buf = buf[:0]
		}
	}
	require.NoError(t, w.Close())
	return out.Bytes()
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// longFLAC is a FLAC of d made with mewkiz/flac's encoder: mono 16-bit
// at rate, the left channel of toneAt, frames of 4096 samples; with
// table, a seek table of a point every 8 frames, whose offsets are those
// of a first encode (the same frames: the encode is deterministic).
func longFLAC(t testing.TB, d time.Duration, rate int, table bool) []byte {
	t.Helper()
	const block = 4096
	n := int(d.Seconds() * float64(rate))
	encode := func(w io.Writer, blocks ...*meta.Block) []int64 {
		info := &meta.StreamInfo{BlockSizeMin: block, BlockSizeMax: block, SampleRate: uint32(rate), NChannels: 1, BitsPerSample: 16, NSamples: uint64(n)}
		cw := &countingWriter{w: w}
		enc, err := mflac.NewEncoder(cw, info, blocks...)
		require.NoError(t, err)
		head := cw.n
		var offsets []int64 // of each frame, from the first's
		for at := 0; at < n; at += block {
			samples := make([]int32, min(block, n-at))
			for i := range samples {
				samples[i] = int32(math.Round(toneAt(at+i, rate, 0) * 32767))
			}
			offsets = append(offsets, cw.n-head)
			f := &frame.Frame{
				Header:    frame.Header{HasFixedBlockSize: true, BlockSize: uint16(len(samples)), SampleRate: uint32(rate), Channels: frame.ChannelsMono, BitsPerSample: 16},
				Subframes: []*frame.Subframe{{SubHeader: frame.SubHeader{Pred: frame.PredVerbatim}, Samples: samples, NSamples: len(samples)}},
			}
			require.NoError(t, enc.WriteFrame(f))
		}
		require.NoError(t, enc.Close())
		return offsets
	}
	offsets := encode(io.Discard)
	var out bytes.Buffer
	if !table {
		encode(&out)
		return out.Bytes()
	}
	var pts []meta.SeekPoint
	for k := 0; k < len(offsets); k += 8 {
		pts = append(pts, meta.SeekPoint{SampleNum: uint64(k * block), Offset: uint64(offsets[k]), NSamples: block})
	}
	st := &meta.Block{Header: meta.Header{Type: meta.TypeSeekTable, Length: int64(18 * len(pts))}, Body: &meta.SeekTable{Points: pts}}
	encode(&out, st)
	return out.Bytes()
}

// A seek 45 s into a minute of WAV (3 minutes into 4) whose encode has
// just started is made from a segment encoded from the target, found by
// byte: the segment's source is read from (about) the target on, not
// from its start; its audio is the track's at the same positions, and the
// way back onto the track within the seam bound (seekAheadEncoded).
func TestQueueSeekAheadWAV(t *testing.T) {
	length, target := 4*time.Minute, 3*time.Minute
	if testing.Short() {
		length, target = time.Minute, 45*time.Second
	}
	const rate = 44100
	o := &heldOpener{data: longWAV(t, length, rate), head: 200 << 10, released: make(chan struct{})}
	seekAheadEncoded(t, o, target)
	before := int64(target.Seconds()*rate) * 4 // the bytes of the frames before the target
	assert.Less(t, o.read.Load(), before/2, "the segment's source read from near the target: %d bytes read, %d before the target", o.read.Load(), before)
}

// The same for FLAC: with a seek table the segment's source is read from
// the seek point before the target on; without one it is decoded from its
// start, at the same exact positions.
func TestQueueSeekAheadFLAC(t *testing.T) {
	length, target := 2*time.Minute, 100*time.Second
	if testing.Short() {
		length, target = time.Minute, 45*time.Second
	}
	const rate = 22050
	for _, table := range []bool{true, false} {
		name := map[bool]string{true: "seek table", false: "no seek table"}[table]
		t.Run(name, func(t *testing.T) {
			data := longFLAC(t, length, rate, table)
			o := &heldOpener{data: data, head: 100 << 10, released: make(chan struct{})}
			seekAheadEncoded(t, o, target)
			if table {
				before := int64(float64(len(data)) * target.Seconds() / length.Seconds())
				assert.Less(t, o.read.Load(), before/2, "the segment's source read from near the target: %d bytes read, about %d before the target", o.read.Load(), before)
			}
		})
	}
}
