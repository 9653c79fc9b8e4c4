package codec_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec"
)

// maxFuzzInput caps the inputs of the fuzz targets.
const maxFuzzInput = 64 << 10

func FuzzMP3(f *testing.F) {
	for _, name := range []string{"prog_22050_mono.mp3", "prog_cbr128.mp3", "prog_id3.mp3"} {
		b := fixture(f, name)
		f.Add(b[:min(len(b), 4000)])
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > maxFuzzInput {
			return
		}
		out, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(in), codec.NewMP3Decoder()))
		if len(out)%4 != 0 {
			t.Fatalf("%d bytes of PCM: not whole stereo samples", len(out))
		}
		// The smallest Layer III frame (24 bytes) decodes to 576 stereo
		// samples: 96 bytes of PCM per byte of input, plus what the end
		// trimming may add.
		if limit := 96*len(in) + 4*4096; len(out) > limit {
			t.Fatalf("%d bytes of PCM from %d bytes of input", len(out), len(in))
		}
		if err != nil && !errors.Is(err, codec.ErrNotMP3) && !errors.Is(err, codec.ErrTruncated) && !errors.Is(err, codec.ErrCorrupt) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}
