package mp3_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/mp3"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
)

// choppy returns reads of random sizes from 1 to max.
type choppy struct {
	r   io.Reader
	rng *rand.Rand
	max int
}

func (c *choppy) Read(p []byte) (int, error) {
	return c.r.Read(p[:min(len(p), 1+c.rng.IntN(c.max))])
}

// readAllChoppy reads r in reads of random sizes.
func readAllChoppy(r io.Reader, rng *rand.Rand) ([]byte, error) {
	var out []byte
	buf := make([]byte, 8192)
	for {
		n, err := r.Read(buf[:1+rng.IntN(len(buf))])
		out = append(out, buf[:n]...)
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return out, err
		}
	}
}

func FuzzMP3(f *testing.F) {
	for _, name := range []string{"prog_22050_mono.mp3", "prog_cbr128.mp3", "prog_id3.mp3", "prog_crc.mp3", "prog_notag.mp3", "prog_8000_mono.mp3", "prog_22050_32k.mp3", "prog_22050_joint.mp3"} {
		b := testutil.Fixture(f, name)
		f.Add(b[:min(len(b), 4000)])
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 64<<10 {
			return
		}
		for _, e := range engines {
			fuzzMP3(t, in, e)
		}
	})
}

// fuzzMP3 decodes in with engine e: whole samples, bounded output, the
// errors of the Decoder's doc, and the same output and error whatever the
// sizes of the reads.
func fuzzMP3(t *testing.T, in []byte, e mp3.Engine) {
	out, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(in), mp3.NewDecoder(mp3.WithEngine(e))))
	sb := 4 // go-mp3's stereo 16-bit samples, or the Native decoder's mono float32 ones
	if e == mp3.Native && len(out) > 0 {
		d := mp3.NewDecoder(mp3.WithEngine(e))
		info, _ := d.ReadInfo(bytes.NewReader(in))
		sb = 4 * info.Channels
	}
	if len(out)%sb != 0 {
		t.Fatalf("%v: %d bytes of PCM: not whole samples of %d bytes", e, len(out), sb)
	}
	if e == mp3.Native {
		for i := 0; i+4 <= len(out); i += 4 {
			if v := float64(math.Float32frombits(binary.LittleEndian.Uint32(out[i:]))); math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("%v: sample %d is %g", e, i/4, v)
			}
		}
	}
	// The smallest Layer III frame (24 bytes) decodes to 576 samples:
	// 24 bytes of PCM per byte of input per 4 bytes of a sample, plus
	// what the end trimming may add.
	if limit := 24*sb*len(in) + sb*4096; len(out) > limit {
		t.Fatalf("%v: %d bytes of PCM from %d bytes of input", e, len(out), len(in))
	}
	if err != nil && !errors.Is(err, mp3.ErrNotMP3) && !errors.Is(err, io.ErrUnexpectedEOF) &&
		!errors.Is(err, mp3.ErrCorrupt) && !errors.Is(err, mp3.ErrUnsupported) {
		t.Fatalf("%v: unexpected error %v", e, err)
	}

	// The output does not depend on the sizes of the reads, from the
	// source or of the output.
	h := fnv.New64a()
	h.Write(in)
	rng := rand.New(rand.NewPCG(h.Sum64(), 1))
	src := &choppy{r: bytes.NewReader(in), rng: rng, max: 1 + rng.IntN(5000)}
	again, err2 := readAllChoppy(catcher.NewTransformReader(src, mp3.NewDecoder(mp3.WithEngine(e))), rng)
	if !bytes.Equal(out, again) {
		t.Fatalf("%v: %d bytes with whole reads, %d with choppy ones", e, len(out), len(again))
	}
	if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
		t.Fatalf("%v: error %v with whole reads, %v with choppy ones", e, err, err2)
	}
}
