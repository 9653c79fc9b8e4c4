package interop_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/nodetest"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
	"github.com/streamcatcher/streamcatcher/pipeline/voice/voicetest"
)

// TestDiscordJSCommitRace has the Go client and discord.js clients
// commit the same epoch on a server whose commit gate holds each epoch's
// commits until two have come: both committers have committed before
// either is announced, every time. At the group's creation the Go client
// and a discord.js client, both pending, each commit a group adding the
// other: one wins, and the loser drops its own group for the winner's
// welcome. At a second discord.js client's join both members commit its
// Add: one wins, and the loser drops its own commit for the winner's.
// Exactly one commit wins each epoch, nobody refuses a commit or a
// welcome (no op 31), and then every party decrypts every other's
// frames, byte-equal, in order.
func TestDiscordJSCommitRace(t *testing.T) {
	nodetest.Need(t, nodeErr)
	heard := newHeard()
	srv := voicetest.NewServer(voicetest.WithDAVEServer(voicetest.WithCommitGate(2)), voicetest.WithRequireDAVE(),
		voicetest.WithPacketHandler(heard.handle))
	t.Cleanup(func() { srv.Close() })
	ca := newTestCA(t)
	endpoint := serveTLS(t, ca, srv)
	spec := func(user string) joinSpec {
		return joinSpec{guild: guildID, user: user, endpoint: endpoint, ca: ca.file, dave: true,
			listen: []string{goUser, djsUser, djsUser2}}
	}
	x := srv.DAVE()

	// The group's creation: the Go client and the first discord.js
	// client commit epoch 1.
	conn := connectGo(t, srv, goUser)
	js := map[string]*djs{djsUser: startDJS(t, srv, spec(djsUser))}
	e1 := settle(t, srv, conn, js)
	assert.Equal(t, uint64(1), e1, "the epoch of the group's creation")
	created := x.Members(guildID)
	st := x.Stats()
	assert.Equal(t, int64(1), st.Commits, "commits won at the creation")
	assert.Equal(t, int64(1), st.Rejected, "commits dropped at the creation: the loser's")
	assert.Equal(t, int64(1), conn.DAVE().Stats().Commits, "the Go client's commits at the creation")

	// The second discord.js client joins: the two members commit epoch 2.
	js[djsUser2] = startDJS(t, srv, spec(djsUser2))
	e2 := settle(t, srv, conn, js)
	assert.Equal(t, uint64(2), e2, "the epoch of the join")
	st = x.Stats()
	assert.Equal(t, int64(2), st.Commits, "commits won after the join")
	assert.Equal(t, int64(2), st.Rejected, "commits dropped after the join: one each epoch")
	gs := conn.DAVE().Stats()
	assert.Equal(t, int64(2), gs.Commits, "the Go client's commits: one each epoch")
	assert.Zero(t, gs.Invalid, "op 31 sent by the Go client")
	assert.Zero(t, st.Invalid, "op 31 received by the server")
	assert.Equal(t, int64(3), st.KeyPackages, "key packages: one each, none sent again after an op 31")

	sent, got := allHear(t, heard, conn, js, []string{djsUser, djsUser2}, e2)

	st, gs = x.Stats(), conn.DAVE().Stats()
	require.NotEmpty(t, created)
	t.Logf("creation: %s won epoch 1 (leaf 0 of %v); join: epoch %d, members %v; server: %d commits won, %d dropped, %d op 31, %d transitions (%d timed out); "+
		"Go: %d commits sent, %d frames sent (%d encrypted), %d and %d frames from the discord.js clients decrypted (%d refused); "+
		"discord.js %s: %d from Go, %d from %s; discord.js %s: %d from Go, %d from %s",
		voiceUser(created[0]), created, e2, x.Members(guildID), st.Commits, st.Rejected, st.Invalid, st.Executed, st.TimedOut,
		gs.Commits, len(sent), gs.Encrypted, len(got[djsUser]), len(got[djsUser2]), gs.Refused,
		djsUser, len(js[djsUser].packets[goUser]), len(js[djsUser].packets[djsUser2]), djsUser2,
		djsUser2, len(js[djsUser2].packets[goUser]), len(js[djsUser2].packets[djsUser]), djsUser)
	for _, d := range js {
		d.leave()
	}
}

// voiceUser names the user of DAVE id id among the test's users.
func voiceUser(id uint64) string {
	for _, u := range []string{goUser, djsUser, djsUser2} {
		if voice.Snowflake(u) == id {
			return u
		}
	}
	return "an unknown user"
}
