package dave_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave"
)

// gateway plays the voice gateway's part for Go sessions: it routes the
// ExternalSender's payloads to the sessions, collects their commits and
// hands them to the ExternalSender in the order made, the first valid one
// of each epoch winning.
type gateway struct {
	t        *testing.T
	channel  uint64
	x        *dave.ExternalSender
	sessions map[uint64]*dave.Session
	// commits are the op 28 payloads made, in order, not yet handed on.
	commits []commitFrom
	// transition is the last transition id used.
	transition uint16
	// rejected counts the commits the ExternalSender dropped.
	rejected int
}

type commitFrom struct {
	from    uint64
	payload []byte
}

func newGateway(t *testing.T, channel uint64) *gateway {
	x, err := dave.NewExternalSender(channel)
	require.NoError(t, err)
	return &gateway{t: t, channel: channel, x: x, sessions: map[uint64]*dave.Session{}}
}

// connect makes user id's session, recognising everyone connected (op
// 11), gives it op 25 and hands its key package (op 26) to the gateway.
func (g *gateway) connect(id uint64) *dave.Session {
	g.t.Helper()
	s, err := dave.NewSession(id, g.channel)
	require.NoError(g.t, err)
	for other, o := range g.sessions {
		s.RecognizeUsers(other)
		o.RecognizeUsers(id)
	}
	g.sessions[id] = s
	require.NoError(g.t, s.SetExternalSender(g.x.Package()))
	g.sendKeyPackage(id)
	return s
}

// sendKeyPackage hands user id's new key package to the gateway.
func (g *gateway) sendKeyPackage(id uint64) {
	g.t.Helper()
	kp, err := g.sessions[id].KeyPackage()
	require.NoError(g.t, err)
	ds, err := g.x.AddKeyPackage(id, kp)
	require.NoError(g.t, err)
	g.deliver(ds)
}

// disconnect drops user id (op 13 to the others) and proposes its
// removal.
func (g *gateway) disconnect(id uint64) {
	g.t.Helper()
	delete(g.sessions, id)
	for _, s := range g.sessions {
		s.ForgetUser(id)
	}
	ds, err := g.x.RemoveUser(id)
	require.NoError(g.t, err)
	g.deliver(ds)
}

// deliver hands payloads to the sessions, collecting their commits.
func (g *gateway) deliver(ds []dave.Delivery) {
	g.t.Helper()
	for _, d := range ds {
		s := g.sessions[d.UserID]
		if s == nil {
			continue // gone
		}
		switch d.Opcode {
		case dave.OpProposals:
			out, err := s.ProcessProposals(d.Payload)
			require.NoError(g.t, err, "user %d: proposals", d.UserID)
			if out != nil {
				g.commits = append(g.commits, commitFrom{d.UserID, out})
			}
		case dave.OpAnnounceCommit:
			tid, err := s.ProcessCommit(d.Payload)
			require.NoError(g.t, err, "user %d: commit", d.UserID)
			assert.Equal(g.t, g.transition, tid)
		case dave.OpWelcome:
			tid, err := s.ProcessWelcome(d.Payload)
			require.NoError(g.t, err, "user %d: welcome", d.UserID)
			assert.Equal(g.t, g.transition, tid)
		default:
			g.t.Fatalf("opcode %d", d.Opcode)
		}
	}
}

// settle hands the collected commits to the gateway in the order made
// until one wins, delivers its announcements and welcomes, and drops the
// rest (later commits of the won epoch are rejected). It returns the
// winner.
func (g *gateway) settle() uint64 {
	g.t.Helper()
	for len(g.commits) > 0 {
		c := g.commits[0]
		g.commits = g.commits[1:]
		if g.sessions[c.from] == nil {
			continue
		}
		g.transition++
		ds, err := g.x.Commit(c.from, c.payload, g.transition)
		if err != nil {
			require.ErrorIs(g.t, err, dave.ErrCommitRejected)
			g.rejected++
			continue
		}
		g.deliver(ds)
		for _, rest := range g.commits {
			if g.sessions[rest.from] == nil {
				continue
			}
			_, err := g.x.Commit(rest.from, rest.payload, g.transition+1)
			require.ErrorIs(g.t, err, dave.ErrCommitRejected, "a later commit of the epoch")
			g.rejected++
		}
		g.commits = nil
		return c.from
	}
	g.t.Fatal("no commit won")
	return 0
}

// agree checks that every session is established at the gateway's epoch
// with the same members, epoch authenticator, privacy code and sender
// secret of every member.
func (g *gateway) agree() {
	g.t.Helper()
	want := g.x.Members()
	var ref *dave.Session
	for id, s := range g.sessions {
		require.True(g.t, s.Established(), "user %d", id)
		assert.Equal(g.t, g.x.Epoch(), s.Epoch(), "user %d's epoch", id)
		assert.ElementsMatch(g.t, want, s.UserIDs(), "user %d's members", id)
		assert.Len(g.t, s.PrivacyCode(), 30)
		if ref == nil {
			ref = s
			continue
		}
		assert.Equal(g.t, ref.EpochAuthenticator(), s.EpochAuthenticator(), "users %d and %d", ref.UserID(), id)
		assert.Equal(g.t, ref.PrivacyCode(), s.PrivacyCode())
		for _, m := range want {
			a, err := ref.SenderSecret(m)
			require.NoError(g.t, err)
			b, err := s.SenderSecret(m)
			require.NoError(g.t, err)
			assert.Len(g.t, a, 16)
			assert.Equal(g.t, a, b, "sender secret of %d at users %d and %d", m, ref.UserID(), id)
		}
	}
}

// TestGoGroupLifecycle runs three Go sessions and the ExternalSender
// through DAVE's flows: creation (all pending, everyone commits, the
// first complete commit wins, the others are dropped and their authors
// join by the Welcome), a join, a leave, and the sole member's reset
// followed by a new group; after each, every member agrees on the epoch,
// the authenticator and every sender's secret.
func TestGoGroupLifecycle(t *testing.T) {
	const channel = 927310423890473011
	g := newGateway(t, channel)
	a, b, c := uint64(1001), uint64(1002), uint64(1003)

	// Creation: A's Add goes nowhere (nobody else pending), B gets A's,
	// A gets B's, C gets both and both get C's.
	g.connect(a)
	g.connect(b)
	g.connect(c)
	require.NotEmpty(t, g.commits)
	for _, s := range g.sessions {
		assert.False(t, s.Established())
	}
	g.settle()
	assert.Equal(t, uint64(1), g.x.Epoch())
	assert.Positive(t, g.rejected, "incomplete and late commits dropped")
	g.agree()
	first := g.sessions[a].EpochAuthenticator()

	// Join.
	d := uint64(1004)
	g.connect(d)
	g.settle()
	assert.Equal(t, uint64(2), g.x.Epoch())
	g.agree()
	assert.NotEqual(t, first, g.sessions[a].EpochAuthenticator())

	// Leave: the commit removing B carries a path.
	g.disconnect(b)
	g.settle()
	assert.Equal(t, uint64(3), g.x.Epoch())
	g.agree()
	_, err := g.sessions[a].SenderSecret(b)
	assert.ErrorIs(t, err, dave.ErrNotMember)

	// Two leave at once; A is left alone.
	g.disconnect(c)
	g.disconnect(d)
	g.settle()
	g.agree()
	assert.Equal(t, []uint64{a}, g.sessions[a].UserIDs())

	// Sole member's reset (op 24, epoch 1), then E joins: a new group.
	g.x.Reset()
	require.NoError(t, g.sessions[a].Reset())
	assert.False(t, g.sessions[a].Established())
	g.sendKeyPackage(a)
	e := uint64(1005)
	g.connect(e)
	g.settle()
	assert.Equal(t, uint64(1), g.x.Epoch())
	g.agree()
	assert.ElementsMatch(t, []uint64{a, e}, g.sessions[e].UserIDs())
}

// TestGoGroupRecovery has a member fail to process a commit (op 31): it
// resets and sends a new key package; the gateway removes and re-adds it
// in one commit, and the group agrees again.
func TestGoGroupRecovery(t *testing.T) {
	g := newGateway(t, 42)
	for id := uint64(1); id <= 3; id++ {
		g.connect(id)
	}
	g.settle()
	g.agree()

	// A damaged commit: member 3 cannot process it.
	g.disconnect(2)
	require.NotEmpty(t, g.commits)
	win := g.commits[0]
	g.commits = nil
	g.transition++
	ds, err := g.x.Commit(win.from, win.payload, g.transition)
	require.NoError(t, err)
	for _, d := range ds {
		s := g.sessions[d.UserID]
		if d.UserID == 3 {
			bad := bytes.Clone(d.Payload)
			bad[len(bad)-1] ^= 1 // the membership tag
			_, err := s.ProcessCommit(bad)
			require.ErrorIs(t, err, dave.ErrInvalidCommit)
			continue
		}
		_, err := s.ProcessCommit(d.Payload)
		require.NoError(t, err)
	}
	require.NoError(t, g.sessions[3].Reset())
	g.sendKeyPackage(3)
	g.settle()
	g.agree()
	assert.ElementsMatch(t, []uint64{1, 3}, g.sessions[1].UserIDs())
}

// TestCommitRejections checks the commits the ExternalSender drops:
// another epoch's, one missing a proposal of the epoch, garbage.
func TestCommitRejections(t *testing.T) {
	g := newGateway(t, 7)
	g.connect(1)
	g.connect(2)
	require.Len(t, g.commits, 2) // 1 adds 2, 2 adds 1
	early := g.commits[0]
	g.connect(3)
	// 1's first commit misses 3's Add.
	_, err := g.x.Commit(early.from, early.payload, 1)
	require.ErrorIs(t, err, dave.ErrCommitRejected)
	assert.Contains(t, err.Error(), "not referenced")
	_, err = g.x.Commit(1, []byte{1, 2, 3}, 1)
	require.ErrorIs(t, err, dave.ErrCommitRejected)
	winner := g.settle()
	// The winner's commit again, now of an old epoch.
	_, err = g.x.Commit(winner, early.payload, 9)
	require.ErrorIs(t, err, dave.ErrCommitRejected)
	assert.Contains(t, err.Error(), "epoch 0")
	g.agree()
	assert.True(t, errors.Is(fmt.Errorf("wrapped: %w", err), dave.ErrCommitRejected))
}
