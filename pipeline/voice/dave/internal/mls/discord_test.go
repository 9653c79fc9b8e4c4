package mls_test

import (
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/captured"
	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// Payloads captured from Discord's voice gateway (see package captured).
const (
	discordChannel        = captured.Channel
	discordAddedUser      = captured.AddedUser
	discordExternalSender = captured.ExternalSender
	discordAppend         = captured.Append
	discordRevoke         = captured.Revoke
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// TestDiscordCapturedPayloads decodes the captured gateway payloads and
// checks them as a DAVE client must: the external sender's P-256 key
// signs the Add (FramedContentTBS without group context), the key package
// and its leaf node verify, the identities are the 8-byte big-endian ids,
// and the revoke names the Add by its ProposalRef.
func TestDiscordCapturedPayloads(t *testing.T) {
	cs := mls.P256AES128GCMSHA256P256

	// op 25 is one ExternalSender; the extension data is a vector of them.
	ext := unhex(t, discordExternalSender)
	data, ok := mls.AppendVarint(nil, uint64(len(ext)))
	require.True(t, ok)
	senders, err := mls.UnmarshalExternalSenders(append(data, ext...))
	require.NoError(t, err)
	require.Len(t, senders, 1)
	sender := senders[0]
	assert.Len(t, sender.SignatureKey, 65)
	assert.Equal(t, mls.CredentialBasic, sender.Credential.Type)

	// op 27 append: MLSMessage messages<V>.
	body := unhex(t, discordAppend)
	n, size, err := mls.ReadVarint(body)
	require.NoError(t, err)
	require.Equal(t, len(body)-size, int(n))
	var m mls.MLSMessage
	require.NoError(t, m.Unmarshal(body[size:]))
	out, err := m.Marshal()
	require.NoError(t, err)
	assert.Equal(t, body[size:], out, "round trip")

	pm := m.PublicMessage
	require.NotNil(t, pm)
	assert.Equal(t, binary.BigEndian.AppendUint64(nil, discordChannel), pm.Content.GroupID)
	assert.Equal(t, mls.Sender{Type: mls.SenderExternal, Index: 0}, pm.Content.Sender)
	require.Equal(t, mls.ContentProposal, pm.Content.ContentType)
	require.Equal(t, mls.ProposalAdd, pm.Content.Proposal.Type)

	ac := pm.AuthenticatedContent()
	require.NoError(t, ac.Verify(cs, sender.SignatureKey, nil))
	other, err := cs.GenerateSigningKey()
	require.NoError(t, err)
	assert.ErrorIs(t, ac.Verify(cs, other.Public(), nil), mls.ErrBadSignature)

	kp := pm.Content.Proposal.KeyPackage
	assert.Equal(t, cs, kp.CipherSuite)
	require.NoError(t, kp.Verify())
	assert.Equal(t, binary.BigEndian.AppendUint64(nil, discordAddedUser), kp.LeafNode.Credential.Identity)
	assert.Equal(t, mls.Lifetime{NotBefore: 0, NotAfter: ^uint64(0)}, kp.LeafNode.Lifetime)
	assert.NotEqual(t, kp.InitKey, kp.LeafNode.EncryptionKey)

	// op 27 revoke: ProposalRef refs<V>, each an opaque<V>.
	rev := unhex(t, discordRevoke)
	require.Equal(t, byte(len(rev)-1), rev[0])
	require.Equal(t, byte(len(rev)-2), rev[1])
	ref, err := ac.Ref(cs)
	require.NoError(t, err)
	assert.Equal(t, rev[2:], ref)
}
