package bench

import (
	"bytes"
	"testing"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave"
)

// daveFrame is the size of the Opus frame of the DAVE benchmarks: 20 ms
// at 64 kbit/s, a voice bot's usual rate.
const daveFrame = 160

// daveRatchet returns a sender's key ratchet for the benchmarks.
func daveRatchet(tb testing.TB) *dave.KeyRatchet {
	r, err := dave.NewKeyRatchet(bytes.Repeat([]byte{0x5a}, dave.BaseSecretSize))
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// BenchmarkDAVESend is the cost of sending one 20 ms Opus frame as
// Discord requires it: numbered, DAVE-encrypted (AES-128-GCM, the tag
// truncated), then sealed by the transport (aead_aes256_gcm_rtpsize);
// beside the transport seal alone. The difference is DAVE's cost per
// frame; allocs/op must be 0 in both.
func BenchmarkDAVESend(b *testing.B) {
	pkt := opus.Packet{Data: make([]byte, daveFrame), Samples: 960}
	for _, withDAVE := range []bool{false, true} {
		name := "transport"
		if withDAVE {
			name = "transport+dave"
		}
		b.Run(name, func(b *testing.B) {
			c, err := sink.NewCipher(sink.ModeAES256GCM, make([]byte, sink.KeySize))
			if err != nil {
				b.Fatal(err)
			}
			opts := []sink.SenderOption{sink.WithCipher(c)}
			if withDAVE {
				opts = append(opts, sink.WithFrameEncryptor(dave.NewEncryptor(daveRatchet(b))))
			}
			s := sink.NewSender(nil, sink.NewPacketizer(1), opts...)
			b.SetBytes(daveFrame)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				pkt.Timestamp = int64(i) * 960
				if _, err := s.Build(pkt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDAVEReceive is the cost of DAVE-decrypting one 20 ms Opus
// frame (the truncated tag recomputed by two AES-GCM seals), beside
// encrypting one. Frames are encrypted in advance, 4096 at a time: each
// round gives the Decryptor a fresh copy of the ratchet (its replay window
// would refuse the frames again), which costs a key derivation every 4096
// frames.
func BenchmarkDAVEReceive(b *testing.B) {
	const round = 4096
	plain := make([]byte, daveFrame)
	e := dave.NewEncryptor(daveRatchet(b))
	frames := make([][]byte, round)
	for i := range frames {
		f, err := e.AppendEncrypt(nil, plain)
		if err != nil {
			b.Fatal(err)
		}
		frames[i] = f
	}
	b.Run("encrypt", func(b *testing.B) {
		e := dave.NewEncryptor(daveRatchet(b))
		dst := make([]byte, 0, daveFrame+dave.MaxOverhead)
		b.SetBytes(daveFrame)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.AppendEncrypt(dst, plain); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decrypt", func(b *testing.B) {
		d := dave.NewDecryptor()
		dst := make([]byte, 0, daveFrame)
		b.SetBytes(daveFrame)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if i%round == 0 {
				d.TransitionToKeyRatchet(daveRatchet(b), 0)
			}
			if _, err := d.AppendDecrypt(dst, frames[i%round]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestDAVESendDecrypts checks once that what BenchmarkDAVESend builds is
// a transport packet whose payload DAVE-decrypts to the frame sent.
func TestDAVESendDecrypts(t *testing.T) {
	key := bytes.Repeat([]byte{7}, sink.KeySize)
	c, err := sink.NewCipher(sink.ModeAES256GCM, key)
	if err != nil {
		t.Fatal(err)
	}
	s := sink.NewSender(nil, sink.NewPacketizer(1), sink.WithCipher(c), sink.WithFrameEncryptor(dave.NewEncryptor(daveRatchet(t))))
	rc, err := sink.NewCipher(sink.ModeAES256GCM, key)
	if err != nil {
		t.Fatal(err)
	}
	r := sink.NewReceiver(rc)
	d := dave.NewDecryptor()
	d.TransitionToKeyRatchet(daveRatchet(t), dave.KeyExpiry)
	for i := range 3 {
		data := bytes.Repeat([]byte{byte(i + 1)}, daveFrame)
		p, err := s.Build(opus.Packet{Data: data, Samples: 960, Timestamp: int64(i) * 960})
		if err != nil {
			t.Fatal(err)
		}
		_, payload, err := r.Open(append([]byte(nil), p...))
		if err != nil {
			t.Fatal(err)
		}
		if len(payload) != daveFrame+12 {
			t.Fatalf("frame %d: payload of %d bytes; want %d", i, len(payload), daveFrame+12)
		}
		got, err := d.AppendDecrypt(nil, payload)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("frame %d: got %x; want %x", i, got, data)
		}
	}
}
