package interop_test

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/internal/nodetest"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
	"github.com/streamcatcher/streamcatcher/pipeline/voice/voicetest"
)

// djsUser2 is the second discord.js client's user.
const djsUser2 = "1200000000000000003"

// daveMarker ends every DAVE frame.
var daveMarker = []byte{0xfa, 0xfa}

// TestDiscordJSDAVE has our Go client and two discord.js clients with
// davey in one channel of a server that requires DAVE: once the three
// are one MLS group at one epoch (the same privacy code everywhere),
// each frame any of them sends is DAVE-decrypted by both others,
// byte-equal to what was sent, in order, while the server relays only
// DAVE frames it cannot read.
func TestDiscordJSDAVE(t *testing.T) {
	nodetest.Need(t, nodeErr)
	heard := newHeard()
	srv := voicetest.NewServer(voicetest.WithRequireDAVE(), voicetest.WithPacketHandler(heard.handle))
	t.Cleanup(func() { srv.Close() })
	ca := newTestCA(t)
	endpoint := serveTLS(t, ca, srv)
	conn := connectGo(t, srv, goUser)

	js := make(map[string]*djs)
	for _, u := range []string{djsUser, djsUser2} {
		js[u] = startDJS(t, srv, joinSpec{
			guild: guildID, user: u, endpoint: endpoint, ca: ca.file, dave: true,
			listen: []string{goUser, djsUser, djsUser2},
		})
		require.True(t, js[u].ready.Dave, "discord.js client %s has no DAVE session", u)
	}
	epoch := settle(t, srv, conn, js)

	sent, got := allHear(t, heard, conn, js, []string{djsUser, djsUser2}, epoch)

	ds, gs := srv.DAVE().Stats(), conn.DAVE().Stats()
	t.Logf("epoch %d, members %v; Go: %d frames sent (%d encrypted), %d from each discord.js client decrypted of %d received (%d refused); "+
		"discord.js %s: %d from Go, %d from %s; discord.js %s: %d from Go, %d from %s; server: %d commits won, %d rejected, %d transitions (%d timed out)",
		epoch, srv.DAVE().Members(guildID), len(sent), gs.Encrypted, len(got[djsUser]), conn.Stats().Received, gs.Refused,
		djsUser, len(js[djsUser].packets[goUser]), len(js[djsUser].packets[djsUser2]), djsUser2,
		djsUser2, len(js[djsUser2].packets[goUser]), len(js[djsUser2].packets[djsUser]), djsUser,
		ds.Commits, ds.Rejected, ds.Executed, ds.TimedOut)
	for _, d := range js {
		d.leave()
	}
}

// allHear has the Go client send frames, then each discord.js client of
// order play frames, and checks that every other party DAVE-decrypts
// each frame byte-equal to what was sent, in order, while the server
// relays DAVE frames it cannot read. It returns the Go client's frames
// and what the Go client received, by sender.
func allHear(t *testing.T, heard *heard, conn *voice.Conn, js map[string]*djs, order []string, epoch uint64) (sent [][]byte, got map[string][][]byte) {
	t.Helper()
	got = make(map[string][][]byte)
	sent = testutil.OpusLink(t, 1, 2, 312, frames, true).Packets
	require.NoError(t, conn.Speaking(voice.SpeakingMicrophone))
	for _, d := range js {
		d.awaitSSRC(goUser, conn.SSRC())
	}
	for i, p := range sent {
		require.NoError(t, conn.Send(opus.Packet{Data: p, Samples: 960, Timestamp: int64(i) * 960}))
	}
	for u, d := range js {
		assert.Empty(t, frameDiff(sent, dataOf(d.awaitPackets(goUser, len(sent)))),
			"the Go client's frames at discord.js client %s, epoch %d", u, epoch)
	}
	assertDAVEFrames(t, sent, heard.of(goUser), "the Go client's frames at the server")

	for i, u := range order {
		d := js[u]
		d.speak()
		for o, other := range js {
			if o != u {
				other.awaitSSRC(u, d.ready.SSRC)
			}
		}
		played := testutil.OpusLink(t, uint32(2+i), 2, 312, frames, true).Packets
		n := d.play(played)
		waitFor(t, u+"'s packets at the server", func() bool { return len(heard.of(u)) >= n },
			func() string { return fmt.Sprintf("%d of %d", len(heard.of(u)), n) })
		atServer := heard.of(u)
		require.Len(t, atServer, n)
		want := append(append([][]byte(nil), played...), silence(n-len(played))...)
		assertDAVEFrames(t, want, atServer, u+"'s frames at the server")
		receiveFrom(t, conn, got, u, len(want))
		assert.Empty(t, frameDiff(want, got[u]), "discord.js client %s's frames at the Go client, epoch %d", u, epoch)
		for o, other := range js {
			if o != u {
				assert.Empty(t, frameDiff(want, dataOf(other.awaitPackets(u, len(want)))),
					"discord.js client %s's frames at discord.js client %s, epoch %d", u, o, epoch)
			}
		}
	}
	return sent, got
}

// settle waits until the Go client and the discord.js clients are the
// server's group at one epoch, with no transition pending and DAVE in
// force everywhere, checks that they show one privacy code, and returns
// the epoch.
func settle(t *testing.T, srv *voicetest.Server, conn *voice.Conn, js map[string]*djs) uint64 {
	t.Helper()
	var epoch uint64
	var why string
	waitFor(t, "one group at one epoch", func() bool {
		epoch = srv.DAVE().Epoch(guildID)
		members := srv.DAVE().Members(guildID)
		if len(members) != 1+len(js) {
			why = fmt.Sprintf("the server's group has %d members", len(members))
			return false
		}
		// Every transition the Go client prepared executed: SendEpoch
		// alone does not tell a new group's epoch 1 from an old one's.
		if gs := conn.DAVE().Stats(); gs.ProtocolVersion != 1 || gs.Epoch != epoch || gs.SendEpoch != epoch || gs.Prepared != gs.Executed {
			why = fmt.Sprintf("the server at epoch %d; the Go client: %+v", epoch, gs)
			return false
		}
		for u, d := range js {
			st := d.state()
			if st.Version != 1 || !st.Ready || st.Pending != 0 || st.Epoch != strconv.FormatUint(epoch, 10) || len(st.Members) != 1+len(js) {
				why = fmt.Sprintf("the server at epoch %d; discord.js client %s: %+v", epoch, u, st)
				return false
			}
		}
		return true
	}, func() string { return why })
	code := conn.DAVE().PrivacyCode()
	require.NotEmpty(t, code)
	for u, d := range js {
		assert.Equal(t, code, d.state().PrivacyCode, "discord.js client %s's privacy code; the Go client's is %s", u, code)
	}
	return epoch
}

// assertDAVEFrames checks that the server relayed DAVE frames in place of
// the frames of want (silence frames go as they are): none is a frame
// sent, each ends with the marker.
func assertDAVEFrames(t *testing.T, want [][]byte, atServer []heardPacket, what string) {
	t.Helper()
	require.Len(t, atServer, len(want), what)
	for i, p := range atServer {
		if string(want[i]) == opus.SilenceFrame {
			assert.Equal(t, []byte(opus.SilenceFrame), p.payload, "%s: frame %d", what, i)
			continue
		}
		assert.True(t, bytes.HasSuffix(p.payload, daveMarker) && !bytes.Contains(p.payload, want[i][1:]),
			"%s: frame %d is not a DAVE frame: %x", what, i, p.payload)
	}
}

func dataOf(es []event) [][]byte {
	s := make([][]byte, len(es))
	for i, e := range es {
		s[i] = e.Data
	}
	return s
}
