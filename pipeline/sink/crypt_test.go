package sink

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The vectors are computed by testdata/vectors.py with Python's
// cryptography (AES-256-GCM) and libsodium (XChaCha20-Poly1305).
var (
	vectorKey = func() []byte {
		k := make([]byte, 32)
		for i := range k {
			k[i] = byte(i)
		}
		return k
	}()
	vectorPayload = append([]byte{0xfc, 0xff, 0xfe}, "opus frame"...)
	vectors       = []struct {
		name, mode  string
		header, ext string
		want        string
	}{
		{"plain", ModeAES256GCM, "80780001000003c00000002a", "",
			"80780001000003c00000002aa3182aee0a5d50ab89a0f5a8640adf232a8484bfdade3b24a88c86a9be00000007"},
		{"plain", ModeXChaCha20Poly1305, "80780001000003c00000002a", "",
			"80780001000003c00000002a4a48a35808b7da6bb1312432a7159fa4341b70532baba69c261387e2d300000007"},
		{"extension", ModeAES256GCM, "90780002000007800000002abede0001", "10ff0000",
			"90780002000007800000002abede00014f18d48186d7dde49fa7e7e567b8e8a3a120698769cadecced28f1c70c59aa048800000007"},
		{"extension", ModeXChaCha20Poly1305, "90780002000007800000002abede0001", "10ff0000",
			"90780002000007800000002abede0001a6485d37843d5724a736367fa46b2fb187b0f6c613ed615f9abc12e122c02982f800000007"},
	}
)

func unhex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func TestCipherVectors(t *testing.T) {
	for _, v := range vectors {
		t.Run(v.name+"/"+v.mode, func(t *testing.T) {
			c, err := NewCipher(v.mode, vectorKey)
			require.NoError(t, err)
			p := append(append(unhex(t, v.header), unhex(t, v.ext)...), vectorPayload...)
			got, err := c.Seal(nil, p, 7)
			require.NoError(t, err)
			assert.Equal(t, v.want, hex.EncodeToString(got))

			// In place, with room to spare.
			q := make([]byte, len(p), len(p)+Overhead)
			copy(q, p)
			got2, err := c.Seal(q[:0], q, 7)
			require.NoError(t, err)
			assert.Equal(t, v.want, hex.EncodeToString(got2))

			r := NewReceiver(c)
			h, payload, err := r.Open(unhex(t, v.want))
			require.NoError(t, err)
			assert.Equal(t, vectorPayload, payload, "extension body stripped")
			assert.Equal(t, uint32(42), h.SSRC)
			assert.Equal(t, uint8(PayloadTypeDiscord), h.PayloadType)
		})
	}
}

func TestCipherRejects(t *testing.T) {
	for _, mode := range []string{ModeAES256GCM, ModeXChaCha20Poly1305} {
		t.Run(mode, func(t *testing.T) {
			c, err := NewCipher(mode, vectorKey)
			require.NoError(t, err)
			other := bytes.Repeat([]byte{9}, 32)
			wrong, err := NewCipher(mode, other)
			require.NoError(t, err)
			seal := func(counter uint32) []byte {
				h := Header{PayloadType: PayloadTypeDiscord, Sequence: uint16(counter), Timestamp: counter * 960, SSRC: 1}
				p := make([]byte, HeaderSize, 64)
				h.Marshal(p)
				p = append(p, vectorPayload...)
				out, err := c.Seal(nil, p, counter)
				require.NoError(t, err)
				return out
			}

			_, _, err = NewReceiver(wrong).Open(seal(1))
			assert.ErrorIs(t, err, ErrAuth, "wrong key")

			r := NewReceiver(c)
			_, _, err = r.Open(seal(5))
			require.NoError(t, err)
			_, _, err = r.Open(seal(5))
			assert.ErrorIs(t, err, ErrReplay, "replayed counter")
			_, _, err = r.Open(seal(4))
			assert.NoError(t, err, "reordered within the window")
			_, _, err = r.Open(seal(100))
			require.NoError(t, err)
			_, _, err = r.Open(seal(30))
			assert.ErrorIs(t, err, ErrReplay, "older than the window")

			full := seal(200)
			for n := 0; n < len(full); n++ {
				_, _, err := NewReceiver(c).Open(append([]byte(nil), full[:n]...))
				assert.Error(t, err, "truncated to %d bytes", n)
			}
			for i := range full {
				b := append([]byte(nil), full...)
				b[i] ^= 0x01
				_, _, err := NewReceiver(c).Open(b)
				assert.Error(t, err, "byte %d flipped", i)
			}
		})
	}
	_, err := NewCipher("xsalsa20_poly1305", vectorKey)
	assert.ErrorIs(t, err, ErrMode)
	_, err = NewCipher(ModeAES256GCM, vectorKey[:16])
	assert.Error(t, err)
}

func TestCounterOrder(t *testing.T) {
	c, err := NewCipher(ModeXChaCha20Poly1305, vectorKey)
	require.NoError(t, err)
	le := c.WithCounterOrder(binary.LittleEndian)
	p := append(unhex(t, "80780001000003c00000002a"), vectorPayload...)
	out, err := le.Seal(nil, p, 7)
	require.NoError(t, err)
	assert.Equal(t, []byte{7, 0, 0, 0}, out[len(out)-4:])
	// A receiver copies the bytes verbatim: either order opens it.
	_, payload, counter, err := c.Open(append([]byte(nil), out...))
	require.NoError(t, err)
	assert.Equal(t, vectorPayload, payload)
	assert.Equal(t, uint32(7)<<24, counter)
	_, _, counter, err = le.Open(out)
	require.NoError(t, err)
	assert.Equal(t, uint32(7), counter)
}

// TestReplayWindowModel checks the window against a set of every counter
// seen, over random orders and wrap-around.
func TestReplayWindowModel(t *testing.T) {
	for seed := uint32(0); seed < 50; seed++ {
		var w ReplayWindow
		seen := map[uint32]bool{}
		top := seed * 0x9e3779b9 // near and across 2^32 for some seeds
		rnd := seed | 1
		var maxSeen uint32
		first := true
		for i := 0; i < 2000; i++ {
			rnd ^= rnd << 13
			rnd ^= rnd >> 17
			rnd ^= rnd << 5
			c := top + uint32(int32(rnd%100)-70) // mostly behind, sometimes ahead
			if rnd%3 == 0 {
				top++
			}
			want := !seen[c]
			if !first && int32(c-maxSeen) <= -64 {
				want = false
			}
			got := w.Check(c)
			require.Equal(t, want, got, "seed %d step %d counter %d top %d", seed, i, c, maxSeen)
			if got {
				seen[c] = true
				if first || int32(c-maxSeen) > 0 {
					maxSeen = c
				}
				first = false
			}
		}
	}
}

func FuzzReceiver(f *testing.F) {
	for _, v := range vectors {
		f.Add(unhex(f, v.want), v.mode == ModeAES256GCM)
	}
	f.Add([]byte{0x9f, 0x78, 0, 0}, true)
	f.Fuzz(func(t *testing.T, p []byte, gcm bool) {
		mode := ModeXChaCha20Poly1305
		if gcm {
			mode = ModeAES256GCM
		}
		c, err := NewCipher(mode, vectorKey)
		require.NoError(t, err)
		n := len(p)
		o, err := NewReceiver(c).OpenPacket(p)
		if err == nil {
			require.LessOrEqual(t, HeaderSize+len(o.Ext)+len(o.Payload)+Overhead, n)
			require.Equal(t, o.Ext != nil, p[0]&0x10 != 0)
		}
	})
}

// TestSenderExtension builds the vectors' packets with a Sender that adds
// a header extension, and opens them with a Receiver that returns it.
func TestSenderExtension(t *testing.T) {
	for _, v := range vectors {
		if v.ext == "" {
			continue
		}
		t.Run(v.mode, func(t *testing.T) {
			c, err := NewCipher(v.mode, vectorKey)
			require.NoError(t, err)
			// The vector is a second packet: the first has the marker.
			pz := NewPacketizer(42, WithStart(1, 0x780-960), WithPayloadType(120))
			body := unhex(t, v.ext)
			s := NewSender(nil, pz, WithCipher(c), WithCounter(6), WithExtension(0xbede, func(dst []byte, _ opus.Packet) []byte {
				return append(dst, body[:2]...) // padded to a word by the Sender
			}))
			_, err = s.Build(opus.Packet{Data: vectorPayload, Samples: 960})
			require.NoError(t, err)
			got, err := s.Build(opus.Packet{Data: vectorPayload, Samples: 960, Timestamp: 960})
			require.NoError(t, err)
			assert.Equal(t, v.want, hex.EncodeToString(got))

			o, err := NewReceiver(c).OpenPacket(got)
			require.NoError(t, err)
			assert.Equal(t, uint16(0xbede), o.ExtProfile)
			assert.Equal(t, body, o.Ext)
			assert.Equal(t, vectorPayload, o.Payload)
			assert.Equal(t, uint16(2), o.Sequence)
			assert.Equal(t, uint32(42), o.SSRC)
		})
	}
	t.Run("too large", func(t *testing.T) {
		s := NewSender(nil, NewPacketizer(1), WithExtension(1, func(dst []byte, _ opus.Packet) []byte {
			return append(dst, make([]byte, MaxPacket)...)
		}))
		_, err := s.Build(opus.Packet{Data: vectorPayload, Samples: 960})
		assert.ErrorIs(t, err, ErrTooLarge)
	})
	t.Run("none", func(t *testing.T) {
		c, err := NewCipher(ModeAES256GCM, vectorKey)
		require.NoError(t, err)
		s := NewSender(nil, NewPacketizer(1), WithCipher(c))
		p, err := s.Build(opus.Packet{Data: vectorPayload, Samples: 960})
		require.NoError(t, err)
		o, err := NewReceiver(c).OpenPacket(p)
		require.NoError(t, err)
		assert.Nil(t, o.Ext)
		assert.Equal(t, vectorPayload, o.Payload)
	})
}
