package mls_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// TestCryptoBasicsVectors checks every vector of crypto-basics.json:
// RefHash, ExpandWithLabel, DeriveSecret, DeriveTreeSecret, the given
// signature and one of ours, the given ciphertext and one of ours.
func TestCryptoBasicsVectors(t *testing.T) {
	var vectors []struct {
		CipherSuite mls.CipherSuite `json:"cipher_suite"`
		RefHash     struct {
			Label string   `json:"label"`
			Value hexBytes `json:"value"`
			Out   hexBytes `json:"out"`
		} `json:"ref_hash"`
		ExpandWithLabel struct {
			Secret  hexBytes `json:"secret"`
			Label   string   `json:"label"`
			Context hexBytes `json:"context"`
			Length  uint16   `json:"length"`
			Out     hexBytes `json:"out"`
		} `json:"expand_with_label"`
		DeriveSecret struct {
			Secret hexBytes `json:"secret"`
			Label  string   `json:"label"`
			Out    hexBytes `json:"out"`
		} `json:"derive_secret"`
		DeriveTreeSecret struct {
			Secret     hexBytes `json:"secret"`
			Label      string   `json:"label"`
			Generation uint32   `json:"generation"`
			Length     uint16   `json:"length"`
			Out        hexBytes `json:"out"`
		} `json:"derive_tree_secret"`
		SignWithLabel struct {
			Priv      hexBytes `json:"priv"`
			Pub       hexBytes `json:"pub"`
			Content   hexBytes `json:"content"`
			Label     string   `json:"label"`
			Signature hexBytes `json:"signature"`
		} `json:"sign_with_label"`
		EncryptWithLabel struct {
			Priv       hexBytes `json:"priv"`
			Pub        hexBytes `json:"pub"`
			Label      string   `json:"label"`
			Context    hexBytes `json:"context"`
			Plaintext  hexBytes `json:"plaintext"`
			KEMOutput  hexBytes `json:"kem_output"`
			Ciphertext hexBytes `json:"ciphertext"`
		} `json:"encrypt_with_label"`
	}
	loadVectors(t, "crypto-basics.json", &vectors)
	require.NotEmpty(t, vectors)
	for _, v := range vectors {
		cs := v.CipherSuite
		t.Run(fmt.Sprint(uint16(cs)), func(t *testing.T) {
			require.True(t, cs.Supported())

			got, err := cs.RefHash(v.RefHash.Label, v.RefHash.Value)
			require.NoError(t, err)
			assert.Equal(t, []byte(v.RefHash.Out), got, "RefHash")

			e := v.ExpandWithLabel
			got, err = cs.ExpandWithLabel(e.Secret, e.Label, e.Context, e.Length)
			require.NoError(t, err)
			assert.Equal(t, []byte(e.Out), got, "ExpandWithLabel")

			got, err = cs.DeriveSecret(v.DeriveSecret.Secret, v.DeriveSecret.Label)
			require.NoError(t, err)
			assert.Equal(t, []byte(v.DeriveSecret.Out), got, "DeriveSecret")

			d := v.DeriveTreeSecret
			got, err = cs.DeriveTreeSecret(d.Secret, d.Label, d.Generation, d.Length)
			require.NoError(t, err)
			assert.Equal(t, []byte(d.Out), got, "DeriveTreeSecret")

			s := v.SignWithLabel
			key, err := cs.NewSigningKey(s.Priv)
			require.NoError(t, err)
			assert.Equal(t, []byte(s.Pub), key.Public(), "public signature key")
			assert.NoError(t, cs.VerifyWithLabel(s.Pub, s.Label, s.Content, s.Signature), "given signature")
			sig, err := cs.SignWithLabel(key, s.Label, s.Content)
			require.NoError(t, err)
			assert.NoError(t, cs.VerifyWithLabel(s.Pub, s.Label, s.Content, sig), "our signature")
			assert.ErrorIs(t, cs.VerifyWithLabel(s.Pub, s.Label+"x", s.Content, sig), mls.ErrBadSignature)

			c := v.EncryptWithLabel
			hk, err := cs.NewHPKEKey(c.Priv)
			require.NoError(t, err)
			assert.Equal(t, []byte(c.Pub), hk.Public(), "public HPKE key")
			pt, err := hk.DecryptWithLabel(c.Label, c.Context, c.KEMOutput, c.Ciphertext)
			require.NoError(t, err)
			assert.Equal(t, []byte(c.Plaintext), pt, "given ciphertext")
			kem, ct, err := cs.EncryptWithLabel(c.Pub, c.Label, c.Context, c.Plaintext)
			require.NoError(t, err)
			pt, err = hk.DecryptWithLabel(c.Label, c.Context, kem, ct)
			require.NoError(t, err)
			assert.Equal(t, []byte(c.Plaintext), pt, "our ciphertext")
			_, err = hk.DecryptWithLabel(c.Label, append([]byte{1}, c.Context...), kem, ct)
			assert.ErrorIs(t, err, mls.ErrDecrypt)
		})
	}
	t.Logf("%d vectors", len(vectors))
}

func TestUnsupportedSuite(t *testing.T) {
	cs := mls.CipherSuite(3)
	assert.False(t, cs.Supported())
	_, err := cs.GenerateSigningKey()
	assert.ErrorIs(t, err, mls.ErrUnsupportedSuite)
	_, err = cs.NewHPKEKey(make([]byte, 32))
	assert.ErrorIs(t, err, mls.ErrUnsupportedSuite)
}
