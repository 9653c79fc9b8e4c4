package dave_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave"
)

// fuzzBase is the base secret of the ratchet the fuzzed Decryptor holds.
const fuzzBase = 0x42

// FuzzDecryptor feeds arbitrary frames to a Decryptor holding one known
// ratchet, old enough for generations 0 to 3, with passthrough never
// allowed. Whatever the bytes, it must not panic, must not return more
// bytes than the frame, and may accept a frame only if it is the silence
// frame or exactly the reference encryption of what it returned under
// the key of the generation its nonce names; a second decryption of an
// accepted encrypted frame must be refused as a replay.
func FuzzDecryptor(f *testing.F) {
	ref := newRatchet(f, fuzzBase)
	keys := make([][dave.KeySize]byte, 4)
	for g := range keys {
		keys[g] = key(f, ref, uint32(g))
	}
	f.Add(refSeal(f, keys[0], 1, []byte{0xfc, 1, 2, 3, 4, 5}))
	f.Add(refSeal(f, keys[0], 200, opus(160, 1)))
	f.Add(refSeal(f, keys[1], 1<<24|7, opus(60, 2)))
	f.Add(refSeal(f, keys[3], 3<<24|0xffffff, opus(10, 3)))
	f.Add(refSeal(f, keys[0], 9, opus(50, 4), refRange{2, 5}, refRange{10, 40}))
	f.Add(refSeal(f, keys[0], 1, nil))
	f.Add([]byte{})
	f.Add([]byte{0xF8, 0xFF, 0xFE})
	f.Add([]byte{0xfa, 0xfa})
	f.Add(append(make([]byte, 8), 0x01, 0x0b, 0xfa, 0xfa))
	f.Add(append(make([]byte, 8), 0xff, 0xff, 0xff, 0xff, 0x0f, 0x0f, 0xfa, 0xfa))

	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) > 4096 {
			return
		}
		d, clock := newDecryptor(t, newRatchet(t, fuzzBase))
		clock.Advance(generationAge(3))
		in := append([]byte(nil), frame...)
		out, err := d.AppendDecrypt(nil, frame)
		require.True(t, bytes.Equal(in, frame), "the frame was modified")
		st := d.Stats()
		if err != nil {
			require.Empty(t, out)
			require.Equal(t, uint64(1), st.Refused(), "refusal counted once: %v", err)
			require.Zero(t, st.OtherFailures, "refusal of no named kind: %v", err)
			return
		}
		require.LessOrEqual(t, len(out), len(frame))
		if bytes.Equal(frame, []byte{0xF8, 0xFF, 0xFE}) {
			require.Equal(t, frame, out)
			return
		}
		require.Equal(t, uint64(1), st.Decrypted)

		// The frame must be the reference encryption of out.
		supp := int(frame[len(frame)-3])
		rest := frame[len(frame)-supp+dave.TagSize : len(frame)-3]
		nonce, n := binary.Uvarint(rest)
		require.Positive(t, n)
		var ranges []refRange
		for rest = rest[n:]; len(rest) > 0; {
			off, n1 := binary.Uvarint(rest)
			size, n2 := binary.Uvarint(rest[n1:])
			require.Positive(t, n1)
			require.Positive(t, n2)
			ranges = append(ranges, refRange{int(off), int(size)})
			rest = rest[n1+n2:]
		}
		gen := nonce >> 24
		require.Less(t, gen, uint64(len(keys)), "accepted a generation the ratchet's age forbids")
		require.Equal(t, frame, refSeal(t, keys[gen], uint32(nonce), out, ranges...),
			"accepted a frame that is not the encryption of its output")

		_, err = d.AppendDecrypt(nil, frame)
		require.ErrorIs(t, err, dave.ErrFrameReplayed)
	})
}
