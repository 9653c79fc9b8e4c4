package dave

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// TestWelcomeDuplicateUser makes, below the Session's own checks, a
// commit adding a second leaf of the creator's user: the joiner refuses
// its Welcome because a user id is in the roster twice.
func TestWelcomeDuplicateUser(t *testing.T) {
	x, err := NewExternalSender(9)
	require.NoError(t, err)
	creator, err := NewSession(1, 9)
	require.NoError(t, err)
	joiner, err := NewSession(2, 9)
	require.NoError(t, err)
	twin, err := NewSession(1, 9)
	require.NoError(t, err)
	joiner.RecognizeUsers(1)
	for _, s := range []*Session{creator, joiner, twin} {
		require.NoError(t, s.SetExternalSender(x.Package()))
	}
	var cache []*cachedProposal
	var refs [][]byte
	for i, s := range []*Session{joiner, twin} {
		b, err := s.KeyPackage()
		require.NoError(t, err)
		kp := new(mls.KeyPackage)
		require.NoError(t, kp.Unmarshal(b))
		ref := []byte{byte(i)}
		refs = append(refs, ref)
		cache = append(cache, &cachedProposal{ref: ref, proposal: &mls.Proposal{Type: mls.ProposalAdd, KeyPackage: kp},
			sender: mls.Sender{Type: mls.SenderExternal}})
	}
	res, err := creator.pending.commit(refs, cache, false)
	require.NoError(t, err)
	require.NotNil(t, res.welcome)
	wb, err := res.welcome.Marshal()
	require.NoError(t, err)
	_, err = joiner.ProcessWelcome(append([]byte{0, 0}, wb...))
	require.ErrorIs(t, err, ErrInvalidWelcome)
	assert.Contains(t, err.Error(), "user 1 twice")
	assert.False(t, joiner.Established())
}
