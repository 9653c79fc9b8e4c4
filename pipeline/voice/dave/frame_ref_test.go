package dave_test

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave"
)

// refRange is an unencrypted range of a frame, for refSeal.
type refRange struct{ off, size int }

// refSeal is a reference encryption of a DAVE frame, written from the
// whitepaper's layout with nothing of the package but the ratchet's key:
// the bytes outside the ranges are sealed with AES-128-GCM under the IV
// 8 zero bytes ‖ nonce (little-endian), the bytes inside them being the
// additional data; the 16-byte tag is cut to 8; then the nonce and the
// ranges in LEB128 (encoding/binary's uvarint is LEB128), the size of
// the supplemental bytes and 0xFAFA.
func refSeal(t testing.TB, key [dave.KeySize]byte, nonce uint32, plain []byte, ranges ...refRange) []byte {
	t.Helper()
	block, err := aes.NewCipher(key[:])
	require.NoError(t, err)
	aead, err := cipher.NewGCM(block)
	require.NoError(t, err)
	var iv [12]byte
	binary.LittleEndian.PutUint32(iv[8:], nonce)

	var clear, aad []byte
	at := 0
	for _, r := range ranges {
		clear = append(clear, plain[at:r.off]...)
		aad = append(aad, plain[r.off:r.off+r.size]...)
		at = r.off + r.size
	}
	clear = append(clear, plain[at:]...)
	sealed := aead.Seal(nil, iv[:], clear, aad)
	ct, tag := sealed[:len(clear)], sealed[len(clear):len(clear)+8]

	var out []byte
	at = 0
	for _, r := range ranges {
		k := r.off - at
		out = append(out, ct[:k]...)
		ct = ct[k:]
		out = append(out, plain[r.off:r.off+r.size]...)
		at = r.off + r.size
	}
	out = append(out, ct...)
	supp := append([]byte(nil), tag...)
	supp = binary.AppendUvarint(supp, uint64(nonce))
	for _, r := range ranges {
		supp = binary.AppendUvarint(supp, uint64(r.off))
		supp = binary.AppendUvarint(supp, uint64(r.size))
	}
	supp = append(supp, byte(len(supp)+3), 0xFA, 0xFA)
	return append(out, supp...)
}

// key returns generation g's key of r.
func key(t testing.TB, r *dave.KeyRatchet, g uint32) [dave.KeySize]byte {
	t.Helper()
	k, err := r.Key(g)
	require.NoError(t, err)
	return k
}

// newRatchet returns the ratchet of a base secret made of the byte b.
func newRatchet(t testing.TB, b byte) *dave.KeyRatchet {
	t.Helper()
	base := make([]byte, dave.BaseSecretSize)
	for i := range base {
		base[i] = b + byte(i)
	}
	r, err := dave.NewKeyRatchet(base)
	require.NoError(t, err)
	return r
}

// opus returns a stand-in Opus frame of n bytes (a TOC byte of a 20 ms
// CELT frame, then a pattern that differs per seq).
func opus(n, seq int) []byte {
	b := make([]byte, n)
	if n == 0 {
		return b
	}
	b[0] = 0xfc
	for i := 1; i < n; i++ {
		b[i] = byte(i*7 + seq*13)
	}
	return b
}

// fakeClock is a clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// generationAge is how long a ratchet must have lived for a sender to
// have reached generation g at MaxFramesPerSecond.
func generationAge(g uint32) time.Duration {
	s := (int64(g)<<24 + dave.MaxFramesPerSecond - 1) / dave.MaxFramesPerSecond
	return time.Duration(s) * time.Second
}
