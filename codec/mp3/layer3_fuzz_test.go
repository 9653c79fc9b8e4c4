package mp3

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/streamcatcher/streamcatcher/internal/testutil"
)

// FuzzLayer3 decodes damaged streams with the decoder's every step (the
// Huffman codes and synthesis window are random ones, so that any main
// data decodes through the same paths as real data): it never panics,
// never reads outside its buffers, and its PCM stays finite.
func FuzzLayer3(f *testing.F) {
	rng := rand.New(rand.NewPCG(31, 32))
	ts, byTable := testTables(f, rng)
	var stream bytes.Buffer
	for _, kind := range []streamKind{{}, {ms: true}, {lsf: true}} {
		frames, _ := testStream(f, rng, 6, kind, byTable)
		for _, fr := range frames {
			stream.Write(fr.data)
		}
	}
	f.Add(stream.Bytes())
	for _, name := range []string{"prog_cbr128.mp3", "prog_22050_joint.mp3", "prog_8000_mono.mp3", "prog_crc.mp3"} {
		b := testutil.Fixture(f, name)
		f.Add(b[:min(len(b), 6000)])
	}
	window := make([]float32, len(synthD))
	for i := range window {
		window[i] = float32(rng.NormFloat64() / 16)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 64<<10 {
			return
		}
		saved := synthD
		copy(synthD[:], window)
		arrangeSynthWindow()
		defer func() { synthD = saved; arrangeSynthWindow() }()
		l := newLayer3()
		l.tables = ts
		m := walker{src: bytes.NewReader(in)}
		out := make([]float32, 1152*2)
		for {
			fr, junk, _, err := m.next()
			if err != nil {
				return // the end, cut or not, or no MP3 at all
			}
			if junk > 0 {
				l.reset()
			}
			n := fr.h.samples() * fr.h.channels
			_ = l.decodeFrame(fr, out[:n])
			for i, v := range out[:n] {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("sample %d of the frame at %d is %g", i, fr.off, v)
				}
			}
		}
	})
}
