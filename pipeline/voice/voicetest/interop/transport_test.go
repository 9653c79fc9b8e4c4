package interop_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/internal/nodetest"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
	"github.com/streamcatcher/streamcatcher/pipeline/voice/voicetest"
)

// The ids of the transport test's guild and users, snowflakes as
// Discord's.
const (
	guildID = "1100000000000000001"
	goUser  = "1200000000000000001"
	djsUser = "1200000000000000002"
)

// frames is how many frames each side sends.
const frames = 50

// TestDiscordJSTransport has discord.js's own client, DAVE off, in a
// voicetest channel beside a Go voice.Conn, in each rtpsize mode: every
// frame the Go client sends reaches discord.js's receiver, and every
// frame discord.js's player sends (its frames, then its five silence
// frames) reaches the server and the Go client, byte for byte, in order,
// with consecutive RTP sequence numbers and the sender's user ID.
func TestDiscordJSTransport(t *testing.T) {
	nodetest.Need(t, nodeErr)
	for _, mode := range []string{voice.ModeAES256GCM, voice.ModeXChaCha20Poly1305} {
		t.Run(mode, func(t *testing.T) {
			heard := newHeard()
			srv := voicetest.NewServer(voicetest.WithModes(mode), voicetest.WithPacketHandler(heard.handle))
			t.Cleanup(func() { srv.Close() })
			ca := newTestCA(t)
			endpoint := serveTLS(t, ca, srv)

			conn := connectGo(t, srv, goUser)
			require.Equal(t, mode, conn.Mode())

			js := startDJS(t, srv, joinSpec{
				guild: guildID, user: djsUser,
				endpoint: endpoint, ca: ca.file, listen: []string{goUser},
			})
			require.Equal(t, mode, js.ready.Mode, "discord.js's mode")
			require.False(t, js.ready.Dave, "discord.js has a DAVE session with daveEncryption off")
			require.Zero(t, js.state().Version, "discord.js's DAVE protocol version")

			// Go to discord.js. Its receiver drops the packets of an SSRC
			// it cannot name yet, so the Go client announces itself first.
			require.NoError(t, conn.Speaking(voice.SpeakingMicrophone))
			js.awaitSSRC(goUser, conn.SSRC())
			sent := testutil.OpusLink(t, 1, 2, 312, frames, true).Packets
			for i, p := range sent {
				require.NoError(t, conn.Send(opus.Packet{Data: p, Samples: 960, Timestamp: int64(i) * 960}))
				time.Sleep(2 * time.Millisecond) // spread over a few of the receiver's reads
			}
			got := js.awaitPackets(goUser, frames)
			var gotFrames [][]byte
			var gotSeqs []uint16
			for _, e := range got {
				gotFrames = append(gotFrames, e.Data)
				gotSeqs = append(gotSeqs, e.Seq)
				assert.Equal(t, conn.SSRC(), e.SSRC, "frame %d's SSRC at discord.js", len(gotSeqs)-1)
			}
			assert.Empty(t, frameDiff(sent, gotFrames), "the Go client's frames at discord.js")
			assert.Empty(t, consecutive(gotSeqs), "the Go client's frames at discord.js")
			assert.Equal(t, seqsOf(heard.of(goUser)), gotSeqs, "the sequence numbers the server and discord.js saw")
			assert.Empty(t, frameDiff(sent, payloadsOf(heard.of(goUser))), "the Go client's frames at the server")

			// discord.js to the server and the Go client.
			played := testutil.OpusLink(t, 2, 2, 312, frames, true).Packets
			sentByJS := js.play(played)
			waitFor(t, "discord.js's packets at the server", func() bool { return len(heard.of(djsUser)) >= sentByJS },
				func() string {
					return fmt.Sprintf("%d of %d; server: %+v", len(heard.of(djsUser)), sentByJS, srv.Stats())
				})
			atServer := heard.of(djsUser)
			require.Len(t, atServer, sentByJS, "discord.js's packets at the server")
			// discord.js's player pads the end of a resource with silence
			// frames (five asked for; 0.19.2 goes idle before sending the
			// last one).
			tail := len(atServer) - len(played)
			require.Positive(t, tail, "silence frames after discord.js's frames")
			assert.LessOrEqual(t, tail, opus.SilenceFrames, "silence frames after discord.js's frames")
			want := append(append([][]byte(nil), played...), silence(tail)...)
			assert.Empty(t, frameDiff(want, payloadsOf(atServer)), "discord.js's frames at the server")
			assert.Empty(t, consecutive(seqsOf(atServer)), "discord.js's frames at the server")

			var atGo [][]byte
			var goSeqs []uint16
			timeout := time.After(wait)
			for len(atGo) < len(want) {
				select {
				case r := <-conn.Receive():
					require.Equal(t, djsUser, r.UserID, "the sender of frame %d at the Go client", len(atGo))
					require.Equal(t, js.ready.SSRC, r.SSRC)
					atGo = append(atGo, r.Opus)
					goSeqs = append(goSeqs, r.Sequence)
				case <-timeout:
					t.Fatalf("the Go client received %d of discord.js's %d frames within %v", len(atGo), len(want), wait)
				}
			}
			assert.Empty(t, frameDiff(want, atGo), "discord.js's frames at the Go client")
			assert.Equal(t, seqsOf(atServer), goSeqs, "the sequence numbers the server and the Go client saw")

			js.leave()
			stats := srv.Stats()
			assert.Zero(t, stats.Rejected, "datagrams the server rejected")
			cs := conn.Stats()
			t.Logf("%s: Go → discord.js: %d frames sent, %d at the server, %d at discord.js; "+
				"discord.js → Go: %d frames and %d silence frames sent, %d at the server, %d at the Go client; "+
				"server: %d packets, %d rejected, %d keep-alives; Go client: %d sent, %d received",
				mode, len(sent), len(heard.of(goUser)), len(got),
				len(played), len(want)-len(played), len(atServer), len(atGo),
				stats.Packets, stats.Rejected, stats.KeepAlives, cs.Sent, cs.Received)
		})
	}
}

// silence returns n silence frames.
func silence(n int) [][]byte {
	s := make([][]byte, n)
	for i := range s {
		s[i] = []byte(opus.SilenceFrame)
	}
	return s
}

func seqsOf(ps []heardPacket) []uint16 {
	s := make([]uint16, len(ps))
	for i, p := range ps {
		s[i] = p.seq
	}
	return s
}

func payloadsOf(ps []heardPacket) [][]byte {
	s := make([][]byte, len(ps))
	for i, p := range ps {
		s[i] = p.payload
	}
	return s
}
