package flac_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/flac"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
)

func FuzzFLAC(f *testing.F) {
	for _, fx := range fixtures {
		b := testutil.Fixture(f, fx.file)
		f.Add(b[:min(len(b), 1500)])
	}
	f.Add(append(id3v2(20), testutil.Fixture(f, "tone_u8_22050_1.flac")[:600]...))
	f.Add([]byte("fLaC"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 64<<10 {
			return
		}
		d := flac.NewDecoder()
		// A FLAC frame of a few bytes may hold 65535 samples of silence:
		// read no more than 16 MiB.
		out, err := io.ReadAll(io.LimitReader(catcher.NewTransformReader(bytes.NewReader(in), d), 16<<20))
		info := d.Info()
		bpf := info.Format.BytesPerFrame()
		switch {
		case bpf == 0 && len(out) > 0:
			t.Fatalf("output without a format")
		case bpf > 0 && len(out)%bpf != 0:
			t.Fatalf("%d bytes: not whole frames of %d", len(out), bpf)
		case info.Length >= 0 && int64(len(out)) > info.Length*int64(bpf):
			t.Fatalf("%d bytes out; the STREAMINFO says %d samples of %d bytes", len(out), info.Length, bpf)
		case len(info.SeekTable)*18 > len(in):
			t.Fatalf("%d seek points from %d bytes", len(info.SeekTable), len(in))
		case d.Size() > 4<<20:
			t.Fatalf("the decoder holds %d bytes after %d bytes of input", d.Size(), len(in))
		}
		if err != nil && !errors.Is(err, flac.ErrNotFLAC) && !errors.Is(err, flac.ErrUnsupported) &&
			!errors.Is(err, flac.ErrCorrupt) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}
