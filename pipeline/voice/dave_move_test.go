package voice_test

import (
	"context"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/pipeline/voice"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// talked sends n frames of s from frame i on and checks that each of rs
// heard them, byte-equal and in order, after what it had heard of s.
func talked(t *testing.T, what string, s *member, i, n int, rs ...*member) {
	t.Helper()
	before := make([]int, len(rs))
	for j, r := range rs {
		before[j] = len(r.from(s.user))
	}
	for k := range n {
		require.NoError(t, s.conn.Send(daveFrame(s.user, i+k)))
	}
	for j, r := range rs {
		waitFor(t, what+": "+r.user+" hearing "+s.user, func() bool { return len(r.from(s.user)) >= before[j]+n })
		got := r.from(s.user)[before[j]:]
		require.Len(t, got, n, what)
		for k, f := range got {
			assert.Equal(t, string(daveFrame(s.user, i+k).Data), f, "%s: %s heard from %s", what, r.user, s.user)
		}
	}
}

// TestDAVERegionMove: a member moved to another server (UpdateServer)
// leaves its group and joins the new server's: a new key package, a
// welcome, a transition; its frames go encrypted to the members there,
// and theirs to it, none in the clear.
func TestDAVERegionMove(t *testing.T) {
	ch1, ch2 := newDAVEChannel(t), newDAVEChannel(t)
	a, b := join(t, ch1, "alice"), join(t, ch1, "bob")
	c := join(t, ch2, "carol")
	settled(t, a, b)
	talked(t, "before the move", a, 0, 10, b)
	kp := a.conn.DAVE().Stats().KeyPackages

	su, _ := ch2.srv.Updates("guild", "alice")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, a.conn.UpdateServer(ctx, su))
	settled(t, a, c)
	assert.Equal(t, int64(1), a.conn.Stats().Moves)
	assert.Greater(t, a.conn.DAVE().Stats().KeyPackages, kp, "a new key package")
	assert.ElementsMatch(t, []uint64{voice.Snowflake("alice"), voice.Snowflake("carol")}, ch2.srv.DAVE().Members("guild"))

	encrypted := a.conn.DAVE().Stats().Encrypted
	talked(t, "after the move", a, 10, 10, c)
	talked(t, "after the move", c, 0, 10, a)
	assert.Equal(t, encrypted+10, a.conn.DAVE().Stats().Encrypted)
	assert.Len(t, b.from("alice"), 10, "bob heard alice only before the move")
	for _, m := range []*member{a, c} {
		assert.Zero(t, m.conn.DAVE().Stats().Refused, "%s", m.user)
	}
	assert.Zero(t, ch1.plain.Load(), "frames relayed in the clear by the first server")
	assert.Zero(t, ch2.plain.Load(), "frames relayed in the clear by the second server")
}

// TestDAVEReidentify: a member whose session the server drops with 4006
// identifies anew and rejoins the group (a new key package, a welcome);
// its frames go encrypted to the others again, and theirs to it.
func TestDAVEReidentify(t *testing.T) {
	ch := newDAVEChannel(t)
	a, b := join(t, ch, "alice"), join(t, ch, "bob")
	settled(t, a, b)
	talked(t, "before the new Identify", a, 0, 10, b)
	kp := a.conn.DAVE().Stats().KeyPackages

	_, st := ch.srv.Updates("guild", "alice")
	require.True(t, ch.srv.Kick(st.SessionID, voice.CloseSessionInvalid, "dropped for the test"))
	waitFor(t, "the new session", func() bool { return a.conn.Stats().Reidentified == 1 })
	waitFor(t, "alice's new key package", func() bool { return a.conn.DAVE().Stats().KeyPackages > kp })
	settled(t, a, b) // a new group: bob was left alone, and reset
	assert.ElementsMatch(t, []uint64{voice.Snowflake("alice"), voice.Snowflake("bob")}, ch.srv.DAVE().Members("guild"))

	encrypted := a.conn.DAVE().Stats().Encrypted
	talked(t, "after the new Identify", a, 10, 10, b)
	talked(t, "after the new Identify", b, 0, 10, a)
	assert.Equal(t, encrypted+10, a.conn.DAVE().Stats().Encrypted)
	for _, m := range []*member{a, b} {
		assert.Zero(t, m.conn.DAVE().Stats().Refused, "%s", m.user)
	}
	assert.Zero(t, ch.plain.Load(), "frames relayed in the clear")
}
