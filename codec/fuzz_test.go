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

func FuzzWAV(f *testing.F) {
	for _, name := range []string{"tone_s16_44100_1.wav", "tone_s24_48000_1.wav", "tone_f32_48000_2.wav", "tone_f32_44100_1.wav", "pipe_s16_48000_1.wav"} {
		b := fixture(f, name)
		f.Add(b[:min(len(b), 300)])
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > maxFuzzInput {
			return
		}
		d := codec.NewWAVDecoder()
		out, err := io.ReadAll(catcher.NewTransformReader(bytes.NewReader(in), d))
		if len(out) > len(in) {
			t.Fatalf("%d bytes out of %d in", len(out), len(in))
		}
		if bpf := d.Format().BytesPerFrame(); bpf > 0 && len(out)%bpf != 0 {
			t.Fatalf("%d bytes: not whole frames of %d", len(out), bpf)
		} else if bpf == 0 && len(out) > 0 {
			t.Fatalf("output without a format")
		}
		if err != nil && !errors.Is(err, codec.ErrNotWAV) && !errors.Is(err, codec.ErrUnsupportedWAV) && !errors.Is(err, codec.ErrTruncated) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

func FuzzOgg(f *testing.F) {
	b := fixture(f, "prog.opus")
	f.Add(b[:min(len(b), 2000)])
	var buf bytes.Buffer
	w := codec.NewOggWriter(&buf, 9)
	_ = w.WritePacket(bytes.Repeat([]byte{7}, 600), 1)
	_ = w.End()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > maxFuzzInput {
			return
		}
		r := codec.NewOggReader(bytes.NewReader(in))
		var packets [][]byte
		total := 0
		var err error
		for {
			var p codec.OggPacket
			p, err = r.ReadPacket()
			if err != nil {
				break
			}
			total += len(p.Data)
			if total > len(in) {
				t.Fatalf("%d bytes of packets from %d of input", total, len(in))
			}
			packets = append(packets, bytes.Clone(p.Data))
		}
		if err != io.EOF {
			if !errors.Is(err, codec.ErrBadPage) && !errors.Is(err, codec.ErrTruncated) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		// What was read whole writes back and reads again the same.
		var out bytes.Buffer
		w := codec.NewOggWriter(&out, 1)
		for _, p := range packets {
			if err := w.WritePacket(p, 0); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.End(); err != nil {
			t.Fatal(err)
		}
		r2 := codec.NewOggReader(&out)
		for i, want := range packets {
			p, err := r2.ReadPacket()
			if err != nil || !bytes.Equal(p.Data, want) {
				t.Fatalf("packet %d: %v", i, err)
			}
		}
		// And the Opus layer on top: no panic, a known error or none.
		d := codec.NewOggOpusDemuxer()
		src := bytes.NewReader(in)
		for {
			_, err := d.NextPacket(src)
			if err == io.EOF {
				break
			}
			if err != nil {
				if !errors.Is(err, codec.ErrNotOpus) && !errors.Is(err, codec.ErrBadPage) && !errors.Is(err, codec.ErrTruncated) && !errors.Is(err, codec.ErrCorruptPacket) {
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
		}
	})
}

func FuzzParsePacket(f *testing.F) {
	f.Add([]byte{31 << 3})
	f.Add([]byte{31<<3 | 3, 0xC2, 255, 1, 4, 0, 0, 0, 0})
	f.Add([]byte{31<<3 | 2, 252, 1})
	f.Fuzz(func(t *testing.T, p []byte) {
		pi, err := codec.ParsePacket(p)
		if err != nil {
			if !errors.Is(err, codec.ErrCorruptPacket) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if pi.Frames < 1 || pi.Frames > codec.MaxFrames || pi.Samples > codec.MaxPacketSamples || pi.Samples != pi.Frames*pi.TOC.FrameSamples() {
			t.Fatalf("bad info %+v", pi)
		}
		// The parts add up to no more than the packet: TOC, frame-count
		// byte, length bytes, frames and padding.
		sum := 1 + pi.Padding
		for _, s := range pi.Sizes[:pi.Frames] {
			if s > codec.MaxFrameSize {
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

func FuzzPacketReader(f *testing.F) {
	f.Add([]byte{3, 0, 0xf8, 1, 2, 2, 0, 0xf8, 0})
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > maxFuzzInput {
			return
		}
		r := codec.NewPacketReader(bytes.NewReader(in))
		var again []byte
		for {
			p, err := r.ReadPacket()
			if err == io.EOF {
				break
			}
			if err != nil {
				if !errors.Is(err, codec.ErrTruncated) && !errors.Is(err, codec.ErrCorruptPacket) {
					t.Fatalf("unexpected error %v", err)
				}
				break
			}
			if len(p) < 1 || len(p) > codec.MaxPacketSize {
				t.Fatalf("packet of %d bytes", len(p))
			}
			again = append(again, byte(len(p)), byte(len(p)>>8))
			again = append(again, p...)
		}
		// The records read are a prefix of the input, byte for byte.
		if !bytes.HasPrefix(in, again) {
			t.Fatalf("records do not reproduce the input")
		}
	})
}
