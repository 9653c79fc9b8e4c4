package wav_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/wav"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/transform"
)

func FuzzWAV(f *testing.F) {
	for _, name := range []string{"tone_s16_44100_1.wav", "tone_s24_48000_1.wav", "tone_f32_48000_2.wav", "tone_f32_44100_1.wav",
		"pipe_s16_48000_1.wav", "tone_u8_22050_1.wav", "tone_f64_8000_2.wav"} {
		b := testutil.Fixture(f, name)
		f.Add(b[:min(len(b), 300)])
	}
	f.Add(wavFile(5, []byte{1, 0, 2, 0, 3}, []byte("LIST\x04\x00\x00\x00abcd")))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 64<<10 {
			return
		}
		d := wav.NewDecoder()
		out, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(in), d))
		if len(out) > 2*len(in) {
			t.Fatalf("%d bytes out of %d in", len(out), len(in))
		}
		bpf := d.Format().BytesPerFrame()
		switch {
		case bpf == 0 && len(out) > 0:
			t.Fatalf("output without a format")
		case bpf > 0 && len(out)%bpf != 0:
			t.Fatalf("%d bytes: not whole frames of %d", len(out), bpf)
		case d.Length() >= 0 && int64(len(out)) > d.Length()*int64(bpf):
			t.Fatalf("%d bytes out; the data chunk declares %d frames of %d", len(out), d.Length(), bpf)
		}
		if err != nil && !errors.Is(err, wav.ErrNotWAV) && !errors.Is(err, wav.ErrUnsupported) &&
			!errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, transform.ErrPartialFrame) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}
