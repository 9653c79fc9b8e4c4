package mls_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// TestWelcomeVectors opens the Welcome of every vector of welcome.json with
// its key package's init key, verifies the group info's signature with
// the signer's key and its confirmation tag with the key schedule started
// from the joiner secret.
func TestWelcomeVectors(t *testing.T) {
	var vectors []struct {
		CipherSuite mls.CipherSuite `json:"cipher_suite"`
		InitPriv    hexBytes        `json:"init_priv"`
		SignerPub   hexBytes        `json:"signer_pub"`
		KeyPackage  hexBytes        `json:"key_package"`
		Welcome     hexBytes        `json:"welcome"`
	}
	loadVectors(t, "welcome.json", &vectors)
	require.NotEmpty(t, vectors)
	for _, v := range vectors {
		cs := v.CipherSuite
		t.Run(fmt.Sprint(uint16(cs)), func(t *testing.T) {
			var kpm, wm mls.MLSMessage
			require.NoError(t, kpm.Unmarshal(v.KeyPackage))
			require.NoError(t, wm.Unmarshal(v.Welcome))
			require.Equal(t, mls.WireFormatKeyPackage, kpm.WireFormat)
			require.Equal(t, mls.WireFormatWelcome, wm.WireFormat)
			kp := kpm.KeyPackage
			require.NoError(t, kp.Verify())

			initKey, err := cs.NewHPKEKey(v.InitPriv)
			require.NoError(t, err)
			assert.Equal(t, kp.InitKey, initKey.Public())

			gs, gi, err := wm.Welcome.Open(kp, initKey)
			require.NoError(t, err)
			require.NoError(t, gi.Verify(v.SignerPub))
			assert.Equal(t, cs, gi.GroupContext.CipherSuite)

			e, err := cs.FromJoinerSecret(gs.JoinerSecret, nil, &gi.GroupContext)
			require.NoError(t, err)
			require.NoError(t, e.VerifyConfirmationTag(gi.GroupContext.ConfirmedTranscriptHash, gi.ConfirmationTag))

			// Another init key does not open it.
			other, err := cs.GenerateHPKEKey()
			require.NoError(t, err)
			_, _, err = wm.Welcome.Open(kp, other)
			assert.ErrorIs(t, err, mls.ErrDecrypt)
		})
	}
	t.Logf("%d vectors", len(vectors))
}

// TestWelcomeRoundTrip makes a Welcome for two key packages of suite 2 and
// opens it with each init key.
func TestWelcomeRoundTrip(t *testing.T) {
	cs := mls.P256AES128GCMSHA256P256
	type joiner struct {
		kp   *mls.KeyPackage
		init *mls.HPKEKey
	}
	var joiners []joiner
	var members []mls.NewMember
	for id := range 2 {
		kp, init, _ := newKeyPackage(t, cs, uint64(1000+id))
		joiners = append(joiners, joiner{kp, init})
		members = append(members, mls.NewMember{KeyPackage: kp, PathSecret: []byte{byte(id)}})
	}
	signer, err := cs.GenerateSigningKey()
	require.NoError(t, err)
	gi := &mls.GroupInfo{
		GroupContext: mls.GroupContext{
			Version: mls.MLS10, CipherSuite: cs, GroupID: []byte("group"), Epoch: 1,
			TreeHash: make([]byte, 32), ConfirmedTranscriptHash: make([]byte, 32), Extensions: []mls.Extension{},
		},
		Extensions:      []mls.Extension{},
		ConfirmationTag: make([]byte, 32),
	}
	require.NoError(t, gi.Sign(signer))
	joinerSecret := make([]byte, 32)
	joinerSecret[0] = 7
	wl, err := mls.NewWelcome(cs, joinerSecret, gi, members)
	require.NoError(t, err)
	for id, j := range joiners {
		gs, got, err := wl.Open(j.kp, j.init)
		require.NoError(t, err)
		assert.Equal(t, joinerSecret, gs.JoinerSecret)
		assert.Equal(t, []byte{byte(id)}, gs.PathSecret)
		require.NoError(t, got.Verify(signer.Public()))
		assert.Equal(t, gi, got)
	}
}

// newKeyPackage returns a signed key package of DAVE's shape for the user
// id: a basic credential of the id as 8 bytes big endian, capabilities
// listing version 1, the suite and basic credentials, a lifetime of 0 to
// 2^64-1; and its init and signature private keys.
func newKeyPackage(t *testing.T, cs mls.CipherSuite, userID uint64) (*mls.KeyPackage, *mls.HPKEKey, *mls.SigningKey) {
	t.Helper()
	sig, err := cs.GenerateSigningKey()
	require.NoError(t, err)
	init, err := cs.GenerateHPKEKey()
	require.NoError(t, err)
	enc, err := cs.GenerateHPKEKey()
	require.NoError(t, err)
	id := make([]byte, 8)
	for i := range 8 {
		id[i] = byte(userID >> (56 - 8*i))
	}
	kp := &mls.KeyPackage{
		Version:     mls.MLS10,
		CipherSuite: cs,
		InitKey:     init.Public(),
		LeafNode: mls.LeafNode{
			EncryptionKey: enc.Public(),
			SignatureKey:  sig.Public(),
			Credential:    mls.Credential{Type: mls.CredentialBasic, Identity: id},
			Capabilities: mls.Capabilities{
				Versions:     []mls.ProtocolVersion{mls.MLS10},
				CipherSuites: []mls.CipherSuite{cs},
				Extensions:   []mls.ExtensionType{},
				Proposals:    []mls.ProposalType{},
				Credentials:  []mls.CredentialType{mls.CredentialBasic},
			},
			Source:     mls.SourceKeyPackage,
			Lifetime:   mls.Lifetime{NotBefore: 0, NotAfter: ^uint64(0)},
			Extensions: []mls.Extension{},
		},
		Extensions: []mls.Extension{},
	}
	require.NoError(t, kp.Sign(sig))
	require.NoError(t, kp.Verify())
	return kp, init, sig
}
