package dave_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave"
	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/captured"
)

// Payloads captured from Discord's voice gateway (see package captured).
const (
	discordChannel        = captured.Channel
	discordSelf           = captured.Self
	discordAddedUser      = captured.AddedUser
	discordExternalSender = captured.ExternalSender
	discordAppend         = captured.Append
	discordRevoke         = captured.Revoke
)

// TestDisplayableCode checks libdave's known answer
// (js/__tests__/DisplayableCode-test.ts) and the arguments refused.
func TestDisplayableCode(t *testing.T) {
	code, err := dave.DisplayableCode(unhex(t, "aabbccddee"), 5, 5)
	require.NoError(t, err)
	assert.Equal(t, "05870", code)
	code, err = dave.DisplayableCode(unhex(t, "000000000100000000020000000003"), 15, 5)
	require.NoError(t, err)
	assert.Equal(t, "000010000200003", code)
	for _, c := range []struct{ n, length, group int }{{4, 5, 5}, {10, 10, 3}, {10, 10, 0}, {20, 18, 9}} {
		_, err := dave.DisplayableCode(make([]byte, c.n), c.length, c.group)
		assert.ErrorIs(t, err, dave.ErrMalformed, "%d bytes, %d digits in groups of %d", c.n, c.length, c.group)
	}
}

// TestDiscordProposals feeds a session Discord's captured op 25 and op
// 27: the external Add of Discord's key package is verified and
// committed with a Welcome while the user is recognised, refused when it
// is not or when its signature is damaged, and the revoke leaves nothing
// to commit.
func TestDiscordProposals(t *testing.T) {
	s, err := dave.NewSession(discordSelf, discordChannel)
	require.NoError(t, err)
	appendOp := append([]byte{0}, unhex(t, discordAppend)...)

	_, err = s.ProcessProposals(appendOp)
	require.ErrorIs(t, err, dave.ErrNoGroup, "before op 25")
	require.NoError(t, s.SetExternalSender(unhex(t, discordExternalSender)))

	_, err = s.ProcessProposals(appendOp)
	require.ErrorIs(t, err, dave.ErrUnrecognizedUser)
	assert.Contains(t, err.Error(), "158533742254751744")

	s.RecognizeUsers(discordAddedUser)
	bad := bytes.Clone(appendOp)
	bad[len(bad)-5] ^= 1 // in the external sender's signature
	_, err = s.ProcessProposals(bad)
	require.ErrorIs(t, err, dave.ErrInvalidProposal)

	out, err := s.ProcessProposals(appendOp)
	require.NoError(t, err)
	require.NotEmpty(t, out, "a commit and a welcome")
	assert.Equal(t, []byte{0, 1, 0, 1}, out[:4], "MLS 1.0 PublicMessage")

	out, err = s.ProcessProposals(append([]byte{1}, unhex(t, discordRevoke)...))
	require.NoError(t, err)
	assert.Nil(t, out, "nothing left to commit")

	_, err = s.ProcessProposals(append([]byte{1}, unhex(t, discordRevoke)...))
	require.ErrorIs(t, err, dave.ErrInvalidProposal, "a second revoke of the same proposal")
	_, err = s.ProcessProposals([]byte{2, 0})
	require.ErrorIs(t, err, dave.ErrMalformed)
}

// pair returns two sessions of users 1 and 2 in channel 9 with the
// ExternalSender x set, 1's commit adding 2 (the op 28 payload) and 2's
// key package's Add delivered to 1.
func pair(t testing.TB) (x *dave.ExternalSender, a, b *dave.Session, op28 []byte) {
	t.Helper()
	x, err := dave.NewExternalSender(9)
	require.NoError(t, err)
	a, err = dave.NewSession(1, 9)
	require.NoError(t, err)
	b, err = dave.NewSession(2, 9)
	require.NoError(t, err)
	a.RecognizeUsers(2)
	b.RecognizeUsers(1)
	for _, s := range []*dave.Session{a, b} {
		require.NoError(t, s.SetExternalSender(x.Package()))
		kp, err := s.KeyPackage()
		require.NoError(t, err)
		ds, err := x.AddKeyPackage(s.UserID(), kp)
		require.NoError(t, err)
		for _, d := range ds {
			if d.UserID == 1 {
				op28, err = a.ProcessProposals(d.Payload)
				require.NoError(t, err)
			}
		}
	}
	require.NotNil(t, op28)
	return x, a, b, op28
}

// TestSessionRefusals checks what a session refuses: another member's
// commit before its group is established, a Welcome naming another
// external sender or an unrecognised user, op 25 once established, and
// the queries that need a group.
func TestSessionRefusals(t *testing.T) {
	x, a, b, op28 := pair(t)
	ds, err := x.Commit(1, op28, 5)
	require.NoError(t, err)
	var announce, welcome []byte
	for _, d := range ds {
		switch d.Opcode {
		case dave.OpAnnounceCommit:
			announce = d.Payload
		case dave.OpWelcome:
			welcome = d.Payload
		}
	}
	require.NotNil(t, announce)
	require.NotNil(t, welcome)

	_, err = b.SenderSecret(1)
	require.ErrorIs(t, err, dave.ErrNoGroup)
	_, err = b.ProcessCommit(announce)
	require.ErrorIs(t, err, dave.ErrInvalidCommit, "a pending session refuses another's commit")
	require.ErrorIs(t, err, dave.ErrNoGroup)

	// Another gateway's external sender.
	other, err := dave.NewExternalSender(9)
	require.NoError(t, err)
	require.NoError(t, b.SetExternalSender(other.Package()))
	_, err = b.ProcessWelcome(welcome)
	require.ErrorIs(t, err, dave.ErrInvalidWelcome)
	require.ErrorIs(t, err, dave.ErrExternalSender)
	require.NoError(t, b.SetExternalSender(x.Package()))

	// User 1 not recognised.
	b.ForgetUser(1)
	_, err = b.ProcessWelcome(welcome)
	require.ErrorIs(t, err, dave.ErrUnrecognizedUser)
	b.RecognizeUsers(1)

	tid, err := b.ProcessWelcome(welcome)
	require.NoError(t, err)
	assert.Equal(t, uint16(5), tid)
	tid, err = a.ProcessCommit(announce)
	require.NoError(t, err)
	assert.Equal(t, uint16(5), tid)
	assert.Equal(t, a.EpochAuthenticator(), b.EpochAuthenticator())
	assert.Equal(t, binary.BigEndian.Uint16(announce), tid)

	require.ErrorIs(t, a.SetExternalSender(x.Package()), dave.ErrExternalSender)
	_, err = a.SenderSecret(3)
	require.ErrorIs(t, err, dave.ErrNotMember)
	_, err = a.ProcessCommit(announce)
	require.ErrorIs(t, err, dave.ErrInvalidCommit, "a commit of the past epoch")
}
