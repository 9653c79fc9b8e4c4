package mls_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// TestPSKSecretVectors checks every vector of psk_secret.json: the
// psk_secret of its external PSKs, each named by its id and nonce,
// computed directly and through a PSKStore.
func TestPSKSecretVectors(t *testing.T) {
	var vectors []struct {
		CipherSuite mls.CipherSuite `json:"cipher_suite"`
		PSKs        []struct {
			ID    hexBytes `json:"psk_id"`
			PSK   hexBytes `json:"psk"`
			Nonce hexBytes `json:"psk_nonce"`
		} `json:"psks"`
		PSKSecret hexBytes `json:"psk_secret"`
	}
	loadVectors(t, "psk_secret.json", &vectors)
	require.NotEmpty(t, vectors)
	for i, v := range vectors {
		cs := v.CipherSuite
		t.Run(fmt.Sprintf("%d/suite%d/%dpsks", i, uint16(cs), len(v.PSKs)), func(t *testing.T) {
			ids := make([]mls.PreSharedKeyID, len(v.PSKs))
			psks := make([][]byte, len(v.PSKs))
			store := mls.NewPSKStore(0)
			for j, p := range v.PSKs {
				ids[j] = mls.PreSharedKeyID{Type: mls.PSKExternal, ID: p.ID, Nonce: p.Nonce}
				psks[j] = p.PSK
				store.AddExternal(p.ID, p.PSK)
			}
			got, err := cs.PSKSecret(ids, psks)
			require.NoError(t, err)
			assert.Equal(t, []byte(v.PSKSecret), got)
			got, err = store.Secret(cs, ids)
			require.NoError(t, err)
			assert.Equal(t, []byte(v.PSKSecret), got, "through the store")
		})
	}
	t.Logf("%d vectors", len(vectors))
}

// TestPSKStore checks what the store refuses and how many resumption
// PSKs it keeps.
func TestPSKStore(t *testing.T) {
	cs := mls.P256AES128GCMSHA256P256
	nonce := bytes.Repeat([]byte{1}, 32)
	group := []byte("group")
	resumption := func(epoch uint64) mls.PreSharedKeyID {
		return mls.PreSharedKeyID{Type: mls.PSKResumption, Usage: mls.ResumptionApplication, GroupID: group, Epoch: epoch, Nonce: nonce}
	}
	external := mls.PreSharedKeyID{Type: mls.PSKExternal, ID: []byte("id"), Nonce: nonce}

	s := mls.NewPSKStore(3)
	s.AddExternal([]byte("id"), []byte("external"))
	for e := range uint64(5) {
		s.AddResumption(group, e, []byte{byte(e)})
	}
	s.AddResumption(group, 3, []byte{33}) // replaces epoch 3's

	for e := range uint64(5) {
		id := resumption(e)
		psk, err := s.PSK(&id)
		if e < 2 {
			assert.ErrorIs(t, err, mls.ErrNotFound, "epoch %d, beyond the 3 kept", e)
			continue
		}
		require.NoError(t, err, "epoch %d", e)
		want := []byte{byte(e)}
		if e == 3 {
			want = []byte{33}
		}
		assert.Equal(t, want, psk, "epoch %d", e)
	}
	other := resumption(4)
	other.GroupID = []byte("other")
	_, err := s.PSK(&other)
	assert.ErrorIs(t, err, mls.ErrNotFound, "another group's epoch")

	want, err := cs.PSKSecret([]mls.PreSharedKeyID{external, resumption(4)}, [][]byte{[]byte("external"), {4}})
	require.NoError(t, err)
	got, err := s.Secret(cs, []mls.PreSharedKeyID{external, resumption(4)})
	require.NoError(t, err)
	assert.Equal(t, want, got)
	none, err := s.Secret(cs, nil)
	require.NoError(t, err)
	assert.Equal(t, make([]byte, 32), none, "no PSK: Nh zero bytes")

	shortNonce := external
	shortNonce.Nonce = nonce[:31]
	_, err = s.Secret(cs, []mls.PreSharedKeyID{shortNonce})
	assert.ErrorIs(t, err, mls.ErrMalformed, "a nonce of 31 bytes")
	_, err = s.Secret(cs, []mls.PreSharedKeyID{external, external})
	assert.ErrorIs(t, err, mls.ErrMalformed, "the same PSK twice")
	reinit := resumption(4)
	reinit.Usage = mls.ResumptionReInit
	_, err = s.Secret(cs, []mls.PreSharedKeyID{reinit})
	assert.ErrorIs(t, err, mls.ErrUnsupported, "a ReInit's resumption PSK")
	unknown := external
	unknown.ID = []byte("unknown")
	_, err = s.Secret(cs, []mls.PreSharedKeyID{unknown})
	assert.ErrorIs(t, err, mls.ErrNotFound, "an unknown external PSK")
}
