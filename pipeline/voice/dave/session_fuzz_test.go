package dave_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave"
	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// maxFuzzInput caps the fuzzers' inputs: the gateway's payloads are a
// few kilobytes, and every length in them is checked against the bytes
// present before anything is allocated for it.
const maxFuzzInput = 1 << 16

// requireSentinel fails unless err wraps one of the package's errors.
func requireSentinel(t *testing.T, err error, sentinels ...error) {
	t.Helper()
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error %v wraps none of %v", err, sentinels)
}

// FuzzProcessProposals feeds op 27 payloads to a pending session: no
// panic, every error is one of the package's, and a commit returned
// decodes as a commit MLSMessage.
func FuzzProcessProposals(f *testing.F) {
	f.Add(append([]byte{0}, unhex(f, discordAppend)...))
	f.Add(append([]byte{1}, unhex(f, discordRevoke)...))
	f.Add([]byte{0, 0})
	f.Add([]byte{1, 0x40, 0x01})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > maxFuzzInput {
			return
		}
		s, err := dave.NewSession(discordSelf, discordChannel)
		require.NoError(t, err)
		require.NoError(t, s.SetExternalSender(unhex(t, discordExternalSender)))
		s.RecognizeUsers(discordAddedUser)
		out, err := s.ProcessProposals(in)
		if err != nil {
			requireSentinel(t, err, dave.ErrMalformed, dave.ErrInvalidProposal, dave.ErrUnrecognizedUser)
			return
		}
		if out != nil {
			var m mls.MLSMessage
			_, err := m.UnmarshalPrefix(out)
			require.NoError(t, err)
			assert.Equal(t, mls.ContentCommit, m.PublicMessage.Content.ContentType)
		}
	})
}

// FuzzProcessCommit feeds op 29 payloads to an established member: no
// panic, every error is one of the package's and leaves the epoch as it
// was, and a commit accepted moves it on by one.
func FuzzProcessCommit(f *testing.F) {
	x, a, b, op28 := pair(f)
	ds, err := x.Commit(1, op28, 1)
	require.NoError(f, err)
	for _, d := range ds {
		if d.Opcode == dave.OpWelcome {
			_, err := b.ProcessWelcome(d.Payload)
			require.NoError(f, err)
		} else {
			_, err := a.ProcessCommit(d.Payload)
			require.NoError(f, err)
		}
	}
	rm, err := x.RemoveUser(2)
	require.NoError(f, err)
	op28, err = a.ProcessProposals(rm[0].Payload)
	require.NoError(f, err)
	f.Add(append([]byte{0, 2}, op28...)) // not the session's: it made another
	f.Add([]byte{0, 2, 0, 1, 0, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > maxFuzzInput {
			return
		}
		before := b.Epoch()
		_, err := b.ProcessCommit(in)
		if err != nil {
			requireSentinel(t, err, dave.ErrMalformed, dave.ErrInvalidCommit, dave.ErrRemoved)
			if !errors.Is(err, dave.ErrRemoved) {
				assert.Equal(t, before, b.Epoch())
			}
			return
		}
		assert.Equal(t, before+1, b.Epoch())
	})
}

// FuzzProcessWelcome feeds op 30 payloads to a pending session holding
// the key package the seed's Welcome is for: no panic, every error is one
// of the package's and leaves the session's state as it was, and a
// Welcome accepted leaves it established in the group of users 1 and 2.
func FuzzProcessWelcome(f *testing.F) {
	x, _, b, op28 := pair(f)
	ds, err := x.Commit(1, op28, 1)
	require.NoError(f, err)
	for _, d := range ds {
		if d.Opcode == dave.OpWelcome {
			f.Add(d.Payload)
		}
	}
	f.Add([]byte{0, 1, 0, 2, 0, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > maxFuzzInput {
			return
		}
		before := b.Established()
		_, err := b.ProcessWelcome(in)
		if err != nil {
			requireSentinel(t, err, dave.ErrMalformed, dave.ErrInvalidWelcome, dave.ErrUnrecognizedUser)
			assert.Equal(t, before, b.Established())
			return
		}
		require.True(t, b.Established())
		assert.Equal(t, []uint64{1, 2}, b.UserIDs())
	})
}
