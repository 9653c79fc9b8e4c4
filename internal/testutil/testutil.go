// Package testutil holds the helpers that the tests of several packages
// share: fixtures, reference signals and measurements of PCM.
package testutil

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/transform"
)

// Fixture returns the bytes of a file in the repository's testdata folder,
// from the test of any package.
func Fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Root(t), "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Root returns the repository's root: the nearest folder above the test's
// working directory that holds go.mod.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		up := filepath.Dir(dir)
		if up == dir {
			t.Fatal("testutil: no go.mod above the working directory")
		}
		dir = up
	}
}

// Program returns the fixtures' program (testdata/README.md) at rate:
// channel 0 (440 Hz tone) or 1 (660 Hz tone), 3 s.
func Program(rate, ch int) []float64 {
	f := []float64{440, 660}[ch]
	out := make([]float64, 3*rate)
	for i := range out {
		t := float64(i) / float64(rate)
		switch {
		case t < 0.5:
		case t < 1.5:
			out[i] = 0.5 * math.Sin(2*math.Pi*f*(t-0.5))
		case t < 2:
		default:
			tau := t - 2
			out[i] = 0.5 * math.Sin(2*math.Pi*(200*tau+1900*tau*tau))
		}
	}
	return out
}

// Channel returns channel ch of interleaved PCM of the given encoding and
// channel count as floats of full scale 1.
func Channel(pcm []byte, e transform.Encoding, channels, ch int) []float64 {
	size := e.BytesPerSample()
	n := len(pcm) / size / channels
	out := make([]float64, n)
	for i := range out {
		b := pcm[size*(i*channels+ch):]
		switch e {
		case transform.S16LE:
			out[i] = float64(int16(binary.LittleEndian.Uint16(b))) / 32768
		case transform.S24LE:
			out[i] = float64(int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24)>>8) / 8388608
		case transform.F32LE:
			out[i] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b)))
		}
	}
	return out
}

// Tone returns frames of f32le PCM: a sine of freq Hz and peak amp on every
// channel, channel c with phase c radians.
func Tone(rate, channels, frames int, freq, amp float64) []byte {
	b := make([]byte, 4*channels*frames)
	for i := range frames {
		for c := range channels {
			v := amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)+float64(c))
			binary.LittleEndian.PutUint32(b[4*(i*channels+c):], math.Float32bits(float32(v)))
		}
	}
	return b
}

// RMS is the root mean square of x[from:to].
func RMS(x []float64, from, to int) float64 {
	var s float64
	for _, v := range x[from:to] {
		s += v * v
	}
	return math.Sqrt(s / float64(max(1, to-from)))
}

// SNR is the signal-to-noise ratio in dB of got against ref over
// [from, to).
func SNR(ref, got []float64, from, to int) float64 {
	var s, n float64
	for i := from; i < to; i++ {
		s += ref[i] * ref[i]
		e := got[i] - ref[i]
		n += e * e
	}
	return 10 * math.Log10(s/n)
}

// SineSNR is the signal-to-noise ratio in dB of y[from:to] against the sine
// of freq Hz, peak amp and phase ph at rate.
func SineSNR(y []float64, rate int, freq, amp, ph float64, from, to int) float64 {
	var sig, noise float64
	for k := from; k < to; k++ {
		want := amp * math.Sin(2*math.Pi*freq*float64(k)/float64(rate)+ph)
		sig += want * want
		noise += (y[k] - want) * (y[k] - want)
	}
	return 10 * math.Log10(sig/noise)
}

// Amplitude is the peak amplitude of the sine of freq Hz that best fits
// y[from:to] (least squares over sine and cosine).
func Amplitude(y []float64, rate int, freq float64, from, to int) float64 {
	var ss, cc, sc, ys, yc float64
	for k := from; k < to; k++ {
		w := 2 * math.Pi * freq * float64(k) / float64(rate)
		s, c := math.Sin(w), math.Cos(w)
		ss += s * s
		cc += c * c
		sc += s * c
		ys += y[k] * s
		yc += y[k] * c
	}
	det := ss*cc - sc*sc
	a := (ys*cc - yc*sc) / det
	b := (yc*ss - ys*sc) / det
	return math.Hypot(a, b)
}

// BestLag returns the lag in [-maxLag, maxLag] at which got best matches
// ref over ref[from:to], and the normalised correlation there.
func BestLag(ref, got []float64, from, to, maxLag int) (int, float64) {
	best, lag := -2.0, 0
	for l := -maxLag; l <= maxLag; l++ {
		var s, e1, e2 float64
		for i := from; i < to; i++ {
			j := i + l
			if j < 0 || j >= len(got) {
				continue
			}
			s += ref[i] * got[j]
			e1 += ref[i] * ref[i]
			e2 += got[j] * got[j]
		}
		if c := s / math.Sqrt(e1*e2+1e-30); c > best {
			best, lag = c, l
		}
	}
	return lag, best
}

// DB is 20·log10(x).
func DB(x float64) float64 { return 20 * math.Log10(x) }

// FramedToOgg writes the packets of a loaded framed stream as an Ogg Opus
// file (two channels, trimmed to the Index's length) and returns it with a
// copy of each packet.
func FramedToOgg(t testing.TB, c *catcher.Catcher, inputRate uint32) ([]byte, [][]byte) {
	t.Helper()
	x, _, ok := catcher.StateOf[framed.Index](c)
	if !ok {
		t.Fatal("testutil: no framed.Index")
	}
	var out bytes.Buffer
	w, err := ogg.NewOpusWriter(&out, ogg.OpusHead{Version: 1, Channels: 2, PreSkip: uint16(x.PreSkip()), InputRate: inputRate},
		ogg.OpusTags{Vendor: "streamcatcher"})
	if err != nil {
		t.Fatal(err)
	}
	var packets [][]byte
	cur := framed.NewCursor(c)
	for {
		p, err := cur.NextContext(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		packets = append(packets, bytes.Clone(p.Data))
		if err := w.WritePacket(p.Data); err != nil {
			t.Fatal(err)
		}
	}
	w.SetLength(x.DurationSamples())
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), packets
}
