package interop_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/internal/nodetest"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
	"github.com/streamcatcher/streamcatcher/pipeline/voice/voicetest"
)

// TestDiscordJSDowngrade has a server that requires DAVE refuse clients
// without it (discord.js's with daveEncryption off and ours with
// WithDAVE(false): 4017, our Connect's error naming the code), then take
// the channel of a Go client and a discord.js client to protocol version
// 0 and back to 1: in each phase every frame the Go client sends reaches
// discord.js byte-equal and in order, as plain frames at version 0 and
// as DAVE frames of a new group after the upgrade.
func TestDiscordJSDowngrade(t *testing.T) {
	nodetest.Need(t, nodeErr)
	heard := newHeard()
	srv := voicetest.NewServer(voicetest.WithRequireDAVE(), voicetest.WithPacketHandler(heard.handle))
	t.Cleanup(func() { srv.Close() })
	ca := newTestCA(t)
	endpoint := serveTLS(t, ca, srv)

	// Refusals.
	plain := startJoining(t, srv, joinSpec{guild: guildID, user: djsUser2, endpoint: endpoint, ca: ca.file, dave: false})
	closed := plain.await("a close code", func(e event) bool { return e.Event == "closed" })
	assert.Equal(t, voice.CloseE2EERequired, closed.Code, "discord.js without DAVE closed with")
	plain.leave()
	_, err := connectErr(srv, goUser, voice.WithDAVE(false))
	var ce *voice.CloseError
	require.True(t, errors.As(err, &ce), "our client without DAVE: %v", err)
	assert.Equal(t, voice.CloseE2EERequired, ce.Code, "our client without DAVE: %v", err)
	t.Logf("refused: discord.js with code %d; our client with %q", closed.Code, err)

	conn := connectGo(t, srv, goUser)
	js := startDJS(t, srv, joinSpec{guild: guildID, user: djsUser, endpoint: endpoint, ca: ca.file, dave: true, listen: []string{goUser}})
	members := map[string]*djs{djsUser: js}
	e1 := settle(t, srv, conn, members)
	require.NoError(t, conn.Speaking(voice.SpeakingMicrophone))
	js.awaitSSRC(goUser, conn.SSRC())

	frames := testutil.OpusLink(t, 9, 2, 312, 3*20, true).Packets
	phase := func(name string, sent [][]byte, dave bool) {
		t.Helper()
		before := len(heard.of(goUser))
		have := len(js.packets[goUser])
		for _, p := range sent {
			require.NoError(t, conn.Send(opus.Packet{Data: p, Samples: 960}))
		}
		got := dataOf(js.awaitPackets(goUser, have+len(sent))[have:])
		assert.Empty(t, frameDiff(sent, got), "%s: the Go client's frames at discord.js", name)
		waitFor(t, name+": the frames at the server", func() bool { return len(heard.of(goUser)) >= before+len(sent) },
			func() string { return fmt.Sprintf("%d of %d", len(heard.of(goUser))-before, len(sent)) })
		atServer := heard.of(goUser)[before:]
		if dave {
			assertDAVEFrames(t, sent, atServer, name+": the frames at the server")
		} else {
			assert.Empty(t, frameDiff(sent, payloadsOf(atServer)), "%s: the frames at the server, in the clear", name)
		}
	}
	phase(fmt.Sprintf("version 1, epoch %d", e1), frames[:20], true)

	require.True(t, srv.DAVE().Downgrade(guildID))
	var why string
	waitFor(t, "protocol version 0 everywhere", func() bool {
		gs, st := conn.DAVE().Stats(), js.state()
		why = fmt.Sprintf("Go: %+v; discord.js: %+v", gs, st)
		return gs.ProtocolVersion == 0 && st.Version == 0 && st.Pending == 0
	}, func() string { return why })
	phase("version 0", frames[20:40], false)

	require.True(t, srv.DAVE().Upgrade(guildID))
	e2 := settle(t, srv, conn, members)
	phase(fmt.Sprintf("version 1 again, epoch %d", e2), frames[40:], true)
	gs := conn.DAVE().Stats()
	t.Logf("Go sender: %d encrypted, %d passed through at version 0; discord.js heard %d of %d; server: %+v",
		gs.Encrypted, gs.Passthrough, len(js.packets[goUser]), len(frames), srv.DAVE().Stats())
	js.leave()
}
