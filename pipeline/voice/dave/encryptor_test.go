package dave_test

import (
	"encoding/hex"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave"
)

// TestEncryptorKnownAnswer checks the first frame of a ratchet against
// DAVE.md's answer: generation 0's key of davey's base secret, nonce 1,
// Opus fc0102030405.
func TestEncryptorKnownAnswer(t *testing.T) {
	r, err := dave.NewKeyRatchet(unhex(t, knownBase))
	require.NoError(t, err)
	e := dave.NewEncryptor(r)
	got, err := e.AppendEncrypt(nil, unhex(t, "fc0102030405"))
	require.NoError(t, err)
	want := "" +
		"2d24a9e84b85" + // the Opus frame, encrypted
		"cf1ba2aa2a6ca739" + // the tag's first 8 bytes
		"01" + // nonce 1, ULEB128
		"0c" + // 12 supplemental bytes: tag, nonce, this byte, marker
		"fafa" // the marker
	assert.Equal(t, want, hex.EncodeToString(got))
	assert.Equal(t, dave.EncryptorStats{Encrypted: 1}, e.Stats())
}

// TestEncryptorMatchesReference encrypts frames of several sizes across
// nonce sizes (1 to 3 bytes of ULEB128) and compares each with the
// reference encryption.
func TestEncryptorMatchesReference(t *testing.T) {
	r := newRatchet(t, 1)
	e := dave.NewEncryptor(r)
	k0 := key(t, r, 0)
	for n := uint32(1); n <= 20000; n++ {
		plain := opus(int(n%300), int(n))
		got, err := e.AppendEncrypt([]byte("x"), plain)
		require.NoError(t, err)
		require.Equal(t, byte('x'), got[0], "dst's bytes kept")
		want := refSeal(t, k0, n, plain)
		require.Equal(t, want, got[1:], "frame %d", n)
		require.LessOrEqual(t, len(got)-1, e.MaxEncryptedFrameSize(len(plain)))
	}
}

// TestEncryptorGenerationBoundary checks that the frame after nonce
// 2^24-1 is the first of generation 1, under generation 1's key, and that
// when the 32-bit nonce wraps the generation goes on from 255 to 256.
func TestEncryptorGenerationBoundary(t *testing.T) {
	r := newRatchet(t, 2)
	e := dave.NewEncryptor(r)
	dave.SetEncryptorState(e, 0, 1<<24-3)
	for _, tc := range []struct {
		nonce uint32
		gen   uint32
	}{{1<<24 - 2, 0}, {1<<24 - 1, 0}, {1 << 24, 1}, {1<<24 + 1, 1}} {
		plain := opus(160, int(tc.nonce))
		got, err := e.AppendEncrypt(nil, plain)
		require.NoError(t, err)
		assert.Equal(t, refSeal(t, key(t, r, tc.gen), tc.nonce, plain), got, "nonce %#x", tc.nonce)
	}

	dave.SetEncryptorState(e, 255, 1<<32-2)
	for _, tc := range []struct {
		nonce uint32
		gen   uint32
	}{{1<<32 - 1, 255}, {0, 256}, {1, 256}} {
		plain := opus(160, int(tc.nonce))
		got, err := e.AppendEncrypt(nil, plain)
		require.NoError(t, err)
		assert.Equal(t, refSeal(t, key(t, r, tc.gen), tc.nonce, plain), got, "nonce %#x", tc.nonce)
	}
}

// TestEncryptorSilence checks that the silence frame goes out
// unencrypted and takes no nonce.
func TestEncryptorSilence(t *testing.T) {
	r := newRatchet(t, 3)
	e := dave.NewEncryptor(r)
	silence := []byte{0xF8, 0xFF, 0xFE}
	got, err := e.AppendEncrypt(nil, silence)
	require.NoError(t, err)
	assert.Equal(t, silence, got)
	plain := opus(20, 0)
	got, err = e.AppendEncrypt(nil, plain)
	require.NoError(t, err)
	assert.Equal(t, refSeal(t, key(t, r, 0), 1, plain), got, "the first encrypted frame still uses nonce 1")
	assert.Equal(t, dave.EncryptorStats{Encrypted: 1, Silence: 1}, e.Stats())
}

// TestEncryptorPassthrough checks that passthrough mode copies frames
// unchanged and takes no nonce, and that frames are refused with no
// ratchet.
func TestEncryptorPassthrough(t *testing.T) {
	var e dave.Encryptor // the zero value: no ratchet
	plain := opus(50, 1)
	_, err := e.AppendEncrypt(nil, plain)
	assert.ErrorIs(t, err, dave.ErrNoKeyRatchet)

	e.SetPassthroughMode(true)
	assert.True(t, e.Passthrough())
	got, err := e.AppendEncrypt(nil, plain)
	require.NoError(t, err)
	assert.Equal(t, plain, got)

	r := newRatchet(t, 4)
	e.SetKeyRatchet(r)
	got, err = e.AppendEncrypt(nil, plain)
	require.NoError(t, err)
	assert.Equal(t, plain, got, "passthrough goes on until turned off")

	e.SetPassthroughMode(false)
	got, err = e.AppendEncrypt(nil, plain)
	require.NoError(t, err)
	assert.Equal(t, refSeal(t, key(t, r, 0), 1, plain), got)
	assert.Equal(t, dave.EncryptorStats{Encrypted: 1, Passthrough: 2, Failed: 1}, e.Stats())
}

// TestEncryptorNewRatchetRestartsNonce checks that each ratchet's first
// frame uses nonce 1.
func TestEncryptorNewRatchetRestartsNonce(t *testing.T) {
	a, b := newRatchet(t, 5), newRatchet(t, 6)
	e := dave.NewEncryptor(a)
	plain := opus(40, 0)
	for range 3 {
		_, err := e.AppendEncrypt(nil, plain)
		require.NoError(t, err)
	}
	e.SetKeyRatchet(b)
	got, err := e.AppendEncrypt(nil, plain)
	require.NoError(t, err)
	assert.Equal(t, refSeal(t, key(t, b, 0), 1, plain), got)
}

// TestEncryptorSinkShape checks Encrypt, the FrameEncryptor shape of
// pipeline/sink: it writes into dst and refuses a dst shorter than
// MaxEncryptedFrameSize.
func TestEncryptorSinkShape(t *testing.T) {
	r := newRatchet(t, 7)
	e := dave.NewEncryptor(r)
	plain := opus(160, 0)
	dst := make([]byte, e.MaxEncryptedFrameSize(len(plain)))
	n, err := e.Encrypt(1234, plain, dst)
	require.NoError(t, err)
	assert.Equal(t, refSeal(t, key(t, r, 0), 1, plain), dst[:n])

	_, err = e.Encrypt(1234, plain, dst[:len(dst)-1])
	assert.ErrorIs(t, err, dave.ErrFrameBufferTooSmall)

	// In place: the frame at the start of dst.
	copy(dst, plain)
	n, err = e.Encrypt(1234, dst[:len(plain)], dst)
	require.NoError(t, err)
	assert.Equal(t, refSeal(t, key(t, r, 0), 2, plain), dst[:n])
}

// TestEncryptorNoAllocs checks that encrypting a frame allocates
// nothing once its generation's key is derived.
func TestEncryptorNoAllocs(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Log("coverage counters do not allocate; checking anyway")
	}
	e := dave.NewEncryptor(newRatchet(t, 8))
	plain := opus(160, 0)
	dst := make([]byte, 0, e.MaxEncryptedFrameSize(len(plain)))
	_, err := e.AppendEncrypt(dst, plain) // derives generation 0's key
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := e.AppendEncrypt(dst, plain); err != nil {
			t.Error(err)
		}
	})
	assert.Zero(t, allocs)
	sink := make([]byte, e.MaxEncryptedFrameSize(len(plain)))
	allocs = testing.AllocsPerRun(100, func() {
		if _, err := e.Encrypt(1, plain, sink); err != nil {
			t.Error(err)
		}
	})
	assert.Zero(t, allocs)
}

// TestEncryptorConcurrent encrypts from several goroutines while the
// ratchet and the mode change; run with -race. Every encrypted frame must
// use a distinct nonce.
func TestEncryptorConcurrent(t *testing.T) {
	e := dave.NewEncryptor(newRatchet(t, 9))
	var wg sync.WaitGroup
	frames := make([][][]byte, 4)
	for i := range frames {
		wg.Go(func() {
			for j := range 200 {
				f, err := e.AppendEncrypt(nil, opus(30, j))
				if err == nil {
					frames[i] = append(frames[i], f)
				}
			}
		})
	}
	wg.Go(func() {
		for range 20 {
			e.SetPassthroughMode(true)
			e.SetPassthroughMode(false)
		}
	})
	wg.Wait()
	seen := map[string]bool{}
	for _, fs := range frames {
		for _, f := range fs {
			if len(f) == 30 { // passed through
				continue
			}
			tail := hex.EncodeToString(f[30+8:]) // nonce, size, marker
			assert.False(t, seen[tail], "nonce used twice: %s", tail)
			seen[tail] = true
		}
	}
	assert.Equal(t, uint64(len(seen)), e.Stats().Encrypted)
}
