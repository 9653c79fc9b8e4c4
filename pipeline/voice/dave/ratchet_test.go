package dave_test

import (
	"encoding/hex"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave"
)

// unhex decodes a hex string of a test's fixture.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// knownBase is the base secret of davey's hash ratchet test.
const knownBase = "cedd61b1b8a1ca69046554282cf70b7b"

// TestKeyRatchetKnownAnswers checks the ratchet against davey's test
// (generation 0's key and nonce) and the key of generation 1 computed
// independently (DAVE.md section 5).
func TestKeyRatchetKnownAnswers(t *testing.T) {
	base := unhex(t, knownBase)
	r, err := dave.NewKeyRatchet(base)
	require.NoError(t, err)

	k0, err := r.Key(0)
	require.NoError(t, err)
	assert.Equal(t, "7530f9a9945e2d2e06d0651f7b2a864b", hex.EncodeToString(k0[:]))

	nonce, err := dave.RatchetNonce(base, 0)
	require.NoError(t, err)
	assert.Equal(t, "301e5f4b74090f985e726bb2", hex.EncodeToString(nonce))

	k1, err := r.Key(1)
	require.NoError(t, err)
	assert.Equal(t, "cddd06e0f3437596bacb9c06a0329c49", hex.EncodeToString(k1[:]))

	// A ratchet that jumps straight to generation 1 derives the same key.
	r2, err := dave.NewKeyRatchet(base)
	require.NoError(t, err)
	j1, err := r2.Key(1)
	require.NoError(t, err)
	assert.Equal(t, k1, j1)
	j0, err := r2.Key(0) // skipped over, kept
	require.NoError(t, err)
	assert.Equal(t, k0, j0)
}

func TestKeyRatchetBaseSecretSize(t *testing.T) {
	for _, n := range []int{0, 15, 17, 32} {
		_, err := dave.NewKeyRatchet(make([]byte, n))
		assert.ErrorIs(t, err, dave.ErrBaseSecretSize, "%d bytes", n)
	}
}

// TestKeyRatchetErased checks that an erased generation cannot be derived
// again, while the generations after it can.
func TestKeyRatchetErased(t *testing.T) {
	r, err := dave.NewKeyRatchet(unhex(t, knownBase))
	require.NoError(t, err)
	k2, err := r.Key(2)
	require.NoError(t, err)

	r.Erase(1)
	_, err = r.Key(1)
	assert.ErrorIs(t, err, dave.ErrKeyErased)

	again, err := r.Key(2)
	require.NoError(t, err)
	assert.Equal(t, k2, again)
	_, err = r.Key(3)
	assert.NoError(t, err)

	r.Erase(1000) // not derived yet: no effect
	_, err = r.Key(1000)
	assert.NoError(t, err)
}

// TestKeyRatchetBounded checks that a ratchet keeps a bounded number of
// keys however far it is driven, erasing the lowest.
func TestKeyRatchetBounded(t *testing.T) {
	r, err := dave.NewKeyRatchet(unhex(t, knownBase))
	require.NoError(t, err)
	_, err = r.Key(2000)
	require.NoError(t, err)
	assert.LessOrEqual(t, dave.KeptKeys(r), 2*(dave.MaxGenerationGap+1))
	_, err = r.Key(0)
	assert.ErrorIs(t, err, dave.ErrKeyErased)
	_, err = r.Key(1999)
	assert.NoError(t, err)
}

// TestKeyRatchetConcurrent derives keys from several goroutines; run
// with -race.
func TestKeyRatchetConcurrent(t *testing.T) {
	r, err := dave.NewKeyRatchet(unhex(t, knownBase))
	require.NoError(t, err)
	want, err := dave.NewKeyRatchet(unhex(t, knownBase))
	require.NoError(t, err)
	var wg sync.WaitGroup
	got := make([][dave.KeySize]byte, 8)
	for i := range got {
		wg.Go(func() {
			got[i], _ = r.Key(uint32(i % 4))
		})
	}
	wg.Wait()
	for i, k := range got {
		w, err := want.Key(uint32(i % 4))
		require.NoError(t, err)
		assert.Equal(t, w, k, "goroutine %d", i)
	}
}
