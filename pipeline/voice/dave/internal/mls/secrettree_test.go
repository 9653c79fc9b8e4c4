package mls_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// TestSecretTreeVectors checks every vector of secret-tree.json: the
// sender data key and nonce, and for each leaf of a tree as wide as the
// vector's list the handshake and application keys and nonces of each
// listed generation.
func TestSecretTreeVectors(t *testing.T) {
	type generation struct {
		Generation       uint32   `json:"generation"`
		HandshakeKey     hexBytes `json:"handshake_key"`
		HandshakeNonce   hexBytes `json:"handshake_nonce"`
		ApplicationKey   hexBytes `json:"application_key"`
		ApplicationNonce hexBytes `json:"application_nonce"`
	}
	var vectors []struct {
		CipherSuite mls.CipherSuite `json:"cipher_suite"`
		SenderData  struct {
			SenderDataSecret hexBytes `json:"sender_data_secret"`
			Ciphertext       hexBytes `json:"ciphertext"`
			Key              hexBytes `json:"key"`
			Nonce            hexBytes `json:"nonce"`
		} `json:"sender_data"`
		EncryptionSecret hexBytes       `json:"encryption_secret"`
		Leaves           [][]generation `json:"leaves"`
	}
	loadVectors(t, "secret-tree.json", &vectors)
	require.NotEmpty(t, vectors)
	checked := 0
	for i, v := range vectors {
		cs := v.CipherSuite
		t.Run(fmt.Sprintf("%d/suite%d/%dleaves", i, uint16(cs), len(v.Leaves)), func(t *testing.T) {
			sd := v.SenderData
			key, nonce, err := cs.SenderDataKey(sd.SenderDataSecret, sd.Ciphertext)
			require.NoError(t, err)
			assert.Equal(t, []byte(sd.Key), key, "sender data key")
			assert.Equal(t, []byte(sd.Nonce), nonce, "sender data nonce")

			tree, err := cs.NewSecretTree(v.EncryptionSecret, uint32(len(v.Leaves)))
			require.NoError(t, err)
			for leaf, gens := range v.Leaves {
				require.NotEmpty(t, gens)
				for _, g := range gens {
					key, nonce, err := tree.Key(uint32(leaf), mls.HandshakeRatchet, g.Generation)
					require.NoError(t, err)
					assert.Equal(t, []byte(g.HandshakeKey), key, "leaf %d generation %d handshake key", leaf, g.Generation)
					assert.Equal(t, []byte(g.HandshakeNonce), nonce, "leaf %d generation %d handshake nonce", leaf, g.Generation)
					key, nonce, err = tree.Key(uint32(leaf), mls.ApplicationRatchet, g.Generation)
					require.NoError(t, err)
					assert.Equal(t, []byte(g.ApplicationKey), key, "leaf %d generation %d application key", leaf, g.Generation)
					assert.Equal(t, []byte(g.ApplicationNonce), nonce, "leaf %d generation %d application nonce", leaf, g.Generation)
					checked++
				}
			}
		})
	}
	t.Logf("%d vectors, %d leaf generations", len(vectors), checked)
}

// newTestSecretTree returns a secret tree of suite 2 over a fixed
// encryption secret.
func newTestSecretTree(t *testing.T, leaves uint32) *mls.SecretTree {
	t.Helper()
	tree, err := mls.P256AES128GCMSHA256P256.NewSecretTree(bytes.Repeat([]byte{7}, 32), leaves)
	require.NoError(t, err)
	return tree
}

// TestSecretTreeNextMatchesKey checks that the keys a sender takes with
// Next, generation after generation, are those a receiver's tree gives
// for the same generations, and differ between ratchets and leaves.
func TestSecretTreeNextMatchesKey(t *testing.T) {
	sender, receiver := newTestSecretTree(t, 4), newTestSecretTree(t, 4)
	seen := map[string]bool{}
	for leaf := range uint32(4) {
		for _, rt := range []mls.RatchetType{mls.HandshakeRatchet, mls.ApplicationRatchet} {
			for want := range uint32(3) {
				gen, key, nonce, err := sender.Next(leaf, rt)
				require.NoError(t, err)
				assert.Equal(t, want, gen)
				rkey, rnonce, err := receiver.Key(leaf, rt, gen)
				require.NoError(t, err)
				assert.Equal(t, key, rkey, "leaf %d %v generation %d", leaf, rt, gen)
				assert.Equal(t, nonce, rnonce)
				assert.False(t, seen[string(key)], "key repeated at leaf %d %v generation %d", leaf, rt, gen)
				seen[string(key)] = true
			}
		}
	}
}

// TestSecretTreeBounds checks the ratchet's rules for received
// generations: each key is given once, generations skipped over are kept
// for late messages up to KeptSkippedKeys, a generation too far ahead is
// refused without moving the ratchet, and leaves and ratchet types
// beyond the tree are refused.
func TestSecretTreeBounds(t *testing.T) {
	tree := newTestSecretTree(t, 2)
	keyOf := func(gen uint32) []byte {
		// A sender's fresh tree, stepped to gen, gives the reference key.
		r := newTestSecretTree(t, 2)
		for {
			g, k, _, err := r.Next(1, mls.ApplicationRatchet)
			require.NoError(t, err)
			if g == gen {
				return k
			}
		}
	}

	k, _, err := tree.Key(1, mls.ApplicationRatchet, 0)
	require.NoError(t, err)
	assert.Equal(t, keyOf(0), k)
	_, _, err = tree.Key(1, mls.ApplicationRatchet, 0)
	assert.ErrorIs(t, err, mls.ErrGeneration, "a generation used twice")

	// Too far ahead: refused, and the ratchet has not moved.
	_, _, err = tree.Key(1, mls.ApplicationRatchet, 1+mls.MaxForwardGenerations+1)
	assert.ErrorIs(t, err, mls.ErrGeneration)
	_, _, err = tree.Key(1, mls.ApplicationRatchet, ^uint32(0))
	assert.ErrorIs(t, err, mls.ErrGeneration)

	// The furthest allowed jump keeps the last KeptSkippedKeys keys.
	far := uint32(1 + mls.MaxForwardGenerations)
	k, _, err = tree.Key(1, mls.ApplicationRatchet, far)
	require.NoError(t, err)
	assert.Equal(t, keyOf(far), k)
	late := far - 1
	k, _, err = tree.Key(1, mls.ApplicationRatchet, late)
	require.NoError(t, err, "a late message within the kept window")
	assert.Equal(t, keyOf(late), k)
	_, _, err = tree.Key(1, mls.ApplicationRatchet, late)
	assert.ErrorIs(t, err, mls.ErrGeneration, "a late key used twice")
	_, _, err = tree.Key(1, mls.ApplicationRatchet, far-mls.KeptSkippedKeys)
	require.NoError(t, err, "the oldest kept generation")
	_, _, err = tree.Key(1, mls.ApplicationRatchet, far-mls.KeptSkippedKeys-1)
	assert.ErrorIs(t, err, mls.ErrGeneration, "a generation skipped beyond the kept window")

	// The other ratchet and the other leaf are untouched.
	_, _, err = tree.Key(1, mls.HandshakeRatchet, 0)
	assert.NoError(t, err)
	_, _, err = tree.Key(0, mls.ApplicationRatchet, 0)
	assert.NoError(t, err)

	_, _, err = tree.Key(2, mls.ApplicationRatchet, 0)
	assert.ErrorIs(t, err, mls.ErrNotFound, "a leaf beyond the tree")
	_, _, _, err = tree.Next(0, mls.RatchetType(2))
	assert.ErrorIs(t, err, mls.ErrNotFound, "an unknown ratchet type")

	_, err = mls.P256AES128GCMSHA256P256.NewSecretTree(make([]byte, 32), 3)
	assert.ErrorIs(t, err, mls.ErrInvalidTree, "3 leaves")
	_, err = mls.P256AES128GCMSHA256P256.NewSecretTree(make([]byte, 31), 4)
	assert.ErrorIs(t, err, mls.ErrBadKey, "a short encryption secret")
}

// TestSecretTreeSkippedWindowSlides checks that keys kept from earlier
// jumps are dropped oldest first when later jumps add more.
func TestSecretTreeSkippedWindowSlides(t *testing.T) {
	tree := newTestSecretTree(t, 1)
	_, _, err := tree.Key(0, mls.HandshakeRatchet, 10) // keeps 0..9
	require.NoError(t, err)
	// Skips 11..42, KeptSkippedKeys of them: 0..9 are dropped.
	_, _, err = tree.Key(0, mls.HandshakeRatchet, 11+mls.KeptSkippedKeys)
	require.NoError(t, err)
	_, _, err = tree.Key(0, mls.HandshakeRatchet, 9)
	assert.ErrorIs(t, err, mls.ErrGeneration, "dropped for newer skipped keys")
	_, _, err = tree.Key(0, mls.HandshakeRatchet, 11)
	assert.NoError(t, err)
}
