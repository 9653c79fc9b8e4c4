package opus_test

import (
	"errors"
	"testing"

	"github.com/streamcatcher/streamcatcher/codec/opus"
)

func FuzzParsePacket(f *testing.F) {
	f.Add([]byte{31 << 3})
	f.Add([]byte{31<<3 | 3, 0xC2, 255, 1, 4, 0, 0, 0, 0})
	f.Add([]byte{31<<3 | 2, 252, 1})
	f.Fuzz(func(t *testing.T, p []byte) {
		pi, err := opus.ParsePacket(p)
		if err != nil {
			if !errors.Is(err, opus.ErrCorruptPacket) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if pi.Frames < 1 || pi.Frames > opus.MaxFrames || pi.Samples > opus.MaxPacketSamples || pi.Samples != int64(pi.Frames)*pi.TOC.FrameSamples() {
			t.Fatalf("bad info %+v", pi)
		}
		// The parts add up to no more than the packet: TOC, frame-count
		// byte, length bytes, frames and padding.
		sum := 1 + pi.Padding
		for _, s := range pi.Sizes[:pi.Frames] {
			if s > opus.MaxFrameSize {
				t.Fatalf("frame of %d bytes", s)
			}
			sum += int(s)
		}
		if sum > len(p) {
			t.Fatalf("parts of %d bytes in a packet of %d", sum, len(p))
		}
		if pi.TOC.Code() < 2 && sum != len(p) {
			t.Fatalf("code %d: parts of %d bytes in a packet of %d", pi.TOC.Code(), sum, len(p))
		}
	})
}
