package mp3_test

import (
	"bytes"
	"errors"
	"hash/fnv"
	"io"
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
	for _, name := range []string{"prog_22050_mono.mp3", "prog_cbr128.mp3", "prog_id3.mp3", "prog_crc.mp3", "prog_notag.mp3"} {
		b := testutil.Fixture(f, name)
		f.Add(b[:min(len(b), 4000)])
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 64<<10 {
			return
		}
		out, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(in), mp3.NewDecoder()))
		if len(out)%4 != 0 {
			t.Fatalf("%d bytes of PCM: not whole stereo samples", len(out))
		}
		// The smallest Layer III frame (24 bytes) decodes to 576 stereo
		// samples: 96 bytes of PCM per byte of input, plus what the end
		// trimming may add.
		if limit := 96*len(in) + 4*4096; len(out) > limit {
			t.Fatalf("%d bytes of PCM from %d bytes of input", len(out), len(in))
		}
		if err != nil && !errors.Is(err, mp3.ErrNotMP3) && !errors.Is(err, io.ErrUnexpectedEOF) &&
			!errors.Is(err, mp3.ErrCorrupt) && !errors.Is(err, mp3.ErrUnsupported) {
			t.Fatalf("unexpected error %v", err)
		}

		// The output does not depend on the sizes of the reads, from the
		// source or of the output.
		h := fnv.New64a()
		h.Write(in)
		rng := rand.New(rand.NewPCG(h.Sum64(), 1))
		src := &choppy{r: bytes.NewReader(in), rng: rng, max: 1 + rng.IntN(5000)}
		again, err2 := readAllChoppy(catcher.NewTransformReader(src, mp3.NewDecoder()), rng)
		if !bytes.Equal(out, again) {
			t.Fatalf("%d bytes with whole reads, %d with choppy ones", len(out), len(again))
		}
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("error %v with whole reads, %v with choppy ones", err, err2)
		}
	})
}
