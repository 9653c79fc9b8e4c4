package mls_test

import (
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// Payloads captured from Discord's voice gateway in channel
// 927310423890473011, as published in the test suite of davey
// (github.com/Snazzah/davey, davey-node/test/session.test.ts): the
// external sender (op 25), an external Add of user 158533742254751744 with
// Discord's own key package (op 27, operation append, after the operation
// byte), and the revoke of that Add (op 27, operation revoke).
const (
	discordChannel   = 927310423890473011
	discordAddedUser = 158533742254751744

	discordExternalSender = "" +
		"404104ca1a2b102501d0672bd45ed74ffb83e078b2ba5b12c3f69fad56f083b6" +
		"a35fc989c6736b5852b5aecdfcdf206e156d3d1dba8e3e5b2f89fc0c16f11614" +
		"e84e4a00010100"
	discordAppend = "" +
		"41f000010001080cde77eadc8230330000000000000000020000000000020001" +
		"00010002404104a61acd34ff0548e6f767cc4df9619b51ba5814d52ee558284f" +
		"c554405768e9e741ba32276414941b7c0190dcb5dfc3349a168f1247ecbdf6fc" +
		"69f3eecab3765d404104f44da24e5aa9f73796fa38be115556e6b7d4f6ba55d2" +
		"ecc3f1b9d198af6237e3fc8fc635996b6c76e77b4acace33f5cfd745ad0d540d" +
		"d6f03f0da85c82e14714404104e7793985ed074af49568b53cf2e3974688279f" +
		"02ee8d7c7df099ce3c7a1a28e747f59a7c7c23e9ef4f7815fb3469f39ea124f8" +
		"b76712c41b763a55b867e6b48b00010802333999400200000200010200020000" +
		"020001010000000000000000ffffffffffffffff0040483046022100d874dc77" +
		"7d4ede7e6d3374f737bc1394ac0ffd0635abdc9d02b3e359e059466a022100e6" +
		"2e97aefd5c6b32ff0ac5c5159dbe94f6f5a01bd0dd14a9dcc4d1e6248972ac00" +
		"4047304502205168abdf8d83a48daf8d5960afb305022de707c7496087feb430" +
		"04c9fd2be5e80221008312a6f6df1ff593671a39f9966f6d1caef43e0c6d53c7" +
		"4300ba089ceeecfbf440473045022100cdbe804ba06a9be17615fe3c7f9055f3" +
		"1a6d0ea9402dd9fda6d109e9a3cb632b022067409e59f6b7f0a3eddd330a092a" +
		"6c13d99d12abaebe0d6d40a0dae435c2a7a2"
	discordRevoke = "" +
		"212062386ffb20b28f556b2465c0a2520ba2b074fca00e94b2fdebc0496d544c" +
		"d6c0"
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
