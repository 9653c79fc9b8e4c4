package voicetest_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
	"github.com/streamcatcher/streamcatcher/pipeline/voice/voicetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// heard is what a server's packet handler received.
type heard struct {
	mu   sync.Mutex
	pkts []heardPacket
}

type heardPacket struct {
	session string
	seq     uint16
	ts      uint32
	marker  bool
	payload string
}

func (h *heard) handle(s *voicetest.Session, p sink.Opened, _ time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pkts = append(h.pkts, heardPacket{s.ID, p.Sequence, p.Timestamp, p.Marker, string(p.Payload)})
}

func (h *heard) get() []heardPacket {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]heardPacket(nil), h.pkts...)
}

// newServer starts a voice server on loopback and returns it with its
// gateway URL.
func newServer(t testing.TB, opts ...voicetest.Option) (*voicetest.Server, string) {
	t.Helper()
	srv := voicetest.NewServer(opts...)
	t.Cleanup(func() { srv.Close() })
	return srv, srv.Endpoint() + "/voice"
}

// connect joins srv's channel of guild as user.
func connect(t testing.TB, srv *voicetest.Server, guild, user string, opts ...voice.Option) (*voice.Conn, error) {
	t.Helper()
	su, st := srv.Updates(guild, user)
	return voice.Connect(context.Background(), su, st, opts...)
}

func frame(i int) opus.Packet {
	return opus.Packet{Data: []byte(fmt.Sprintf("frame %04d", i)), Samples: 960, Timestamp: int64(i) * 960}
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second) // only a failing run waits so long
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkTimeline checks that the server heard frames [0, n) in order, on
// one RTP timeline (sequence and timestamp continued) whatever the
// sessions that carried them.
func checkTimeline(t *testing.T, got []heardPacket, n int) {
	t.Helper()
	require.Len(t, got, n)
	for i, p := range got {
		assert.Equal(t, fmt.Sprintf("frame %04d", i), p.payload)
		assert.Equal(t, got[0].seq+uint16(i), p.seq, "packet %d", i)
		assert.Equal(t, got[0].ts+uint32(960*i), p.ts, "packet %d", i)
	}
}

// checkRun checks that the server heard frames [0, n) in order, numbered
// contiguously from one session.
func checkRun(t *testing.T, got []heardPacket, n int) {
	t.Helper()
	require.Len(t, got, n)
	for i, p := range got {
		assert.Equal(t, fmt.Sprintf("frame %04d", i), p.payload)
		assert.Equal(t, got[0].seq+uint16(i), p.seq, "packet %d", i)
		assert.Equal(t, got[0].ts+uint32(960*i), p.ts, "packet %d", i)
		assert.Equal(t, i == 0, p.marker, "packet %d", i)
	}
}

func TestHandshakeAndAudio(t *testing.T) {
	for _, mode := range []string{voice.ModeAES256GCM, voice.ModeXChaCha20Poly1305} {
		t.Run(mode, func(t *testing.T) {
			var h heard
			srv, _ := newServer(t, voicetest.WithPacketHandler(h.handle))
			// A listener in the channel hears the bot's Speaking, which
			// the bot sends by itself before its first packet.
			spoke := make(chan struct{}, 1)
			listener, err := connect(t, srv, "guild", "listener", voice.WithMessageHandler(func(m voice.Message) {
				if m.Op == voice.OpSpeaking {
					select {
					case spoke <- struct{}{}:
					default:
					}
				}
			}))
			require.NoError(t, err)
			defer listener.Close()
			c, err := connect(t, srv, "guild", "bot", voice.WithModes(mode))
			require.NoError(t, err)
			defer c.Close()
			assert.Equal(t, mode, c.Mode())
			for i := range 50 {
				require.NoError(t, c.Send(frame(i)))
			}
			waitFor(t, "50 packets", func() bool { return len(h.get()) == 50 })
			checkRun(t, h.get(), 50)
			select {
			case <-spoke:
			case <-time.After(30 * time.Second):
				t.Fatal("the server did not pass the bot's Speaking on")
			}
			st := srv.Stats()
			assert.Equal(t, int64(50), st.Packets)
			assert.Zero(t, st.Rejected)
			assert.Equal(t, int64(2), st.Discovery, "one for each client")
		})
	}
}

// TestResume drops the control connection: the client resumes, audio
// goes on meanwhile, and a message sent while it was away is replayed.
func TestResume(t *testing.T) {
	var h heard
	srv, _ := newServer(t, voicetest.WithPacketHandler(h.handle), voicetest.WithHeartbeatInterval(heartbeat))
	joined := make(chan []string, 4)
	c, err := connect(t, srv, "guild", "bot", voice.WithMessageHandler(func(m voice.Message) {
		var cc voice.ClientsConnect
		if m.Op == voice.OpClientsConnect && m.Decode(&cc) == nil {
			joined <- cc.UserIDs
		}
	}))
	require.NoError(t, err)
	defer c.Close()

	for i := range 20 {
		require.NoError(t, c.Send(frame(i)))
	}
	c.DropControl()
	// While the bot is away, someone joins its channel.
	other, err := connect(t, srv, "guild", "listener")
	require.NoError(t, err)
	defer other.Close()
	for i := 20; i < 40; i++ {
		require.NoError(t, c.Send(frame(i)))
	}
	select {
	case ids := <-joined:
		assert.Equal(t, []string{"listener"}, ids)
	case <-time.After(5 * time.Second):
		t.Fatal("the join was not replayed after the resume")
	}
	waitFor(t, "the resume", func() bool { return c.Stats().Resumes == 1 })
	// The server counts the resume once it has sent Resumed, which the
	// client may read first.
	waitFor(t, "the server's count of the resume", func() bool { return srv.Stats().Resumed == 1 })
	beats := c.Stats().Heartbeats
	waitFor(t, "40 packets", func() bool { return len(h.get()) == 40 })
	checkRun(t, h.get(), 40)
	waitFor(t, "a heartbeat on the resumed link", func() bool { return c.Stats().Heartbeats > beats })
	assert.Positive(t, c.Stats().RTT)
	select {
	case <-c.Done():
		t.Fatalf("the connection ended: %v", c.Err())
	default:
	}
}

// heartbeat is the heartbeat interval of the tests that keep a connection
// up across a resume: the server ends a session that has sent none for 1.5
// intervals, so it must be long enough that a busy machine's delays never
// come near it (a tenth of a second would be a real-time deadline that a
// loaded runner misses).
const heartbeat = time.Second

// TestUDPReopen closes the client's UDP socket mid-stream: the next send
// reopens it, and not a packet is lost.
func TestUDPReopen(t *testing.T) {
	var h heard
	srv, _ := newServer(t, voicetest.WithPacketHandler(h.handle))
	c, err := connect(t, srv, "guild", "bot")
	require.NoError(t, err)
	defer c.Close()
	for i := range 60 {
		if i == 30 {
			c.DropUDP()
		}
		require.NoError(t, c.Send(frame(i)))
	}
	waitFor(t, "60 packets", func() bool { return len(h.get()) == 60 })
	checkRun(t, h.get(), 60)
	assert.Equal(t, int64(1), c.Stats().Reopened)
	assert.Equal(t, int64(2), srv.Stats().Discovery)
	waitFor(t, "the new address selected", func() bool { return srv.Stats().Selected == 2 })
}

// TestSessionEvents: a second user's join and leave reach the first, and
// a client's Close ends its session at once.
func TestSessionEvents(t *testing.T) {
	ended := make(chan error, 2)
	srv, _ := newServer(t, voicetest.WithSessionHandler(func(_ *voicetest.Session, err error) { ended <- err }))
	msgs := make(chan voice.Message, 8)
	a, err := connect(t, srv, "guild", "a", voice.WithMessageHandler(func(m voice.Message) { msgs <- m }))
	require.NoError(t, err)
	defer a.Close()
	b, err := connect(t, srv, "guild", "b")
	require.NoError(t, err)
	require.NoError(t, b.Speaking(voice.SpeakingSoundshare))

	want := []int{voice.OpClientsConnect, voice.OpSpeaking, voice.OpClientDisconnect}
	for _, op := range want {
		if op == voice.OpClientDisconnect {
			require.NoError(t, b.Close())
			assert.NoError(t, <-ended)
		}
		select {
		case m := <-msgs:
			require.Equal(t, op, m.Op)
			if op == voice.OpSpeaking {
				var sp voice.Speaking
				require.NoError(t, m.Decode(&sp))
				assert.Equal(t, voice.Speaking{Speaking: voice.SpeakingSoundshare, SSRC: b.SSRC(), UserID: "b"}, sp)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no op %d", op)
		}
	}
	assert.Equal(t, 1, srv.Stats().Sessions)
}

// raw is a bare WebSocket client for sending what a client should not.
func raw(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.Dial(context.Background(), url, nil)
	require.NoError(t, err)
	t.Cleanup(func() { ws.CloseNow() })
	_, b, err := ws.Read(context.Background())
	require.NoError(t, err)
	m, err := voice.ParseMessage(b)
	require.NoError(t, err)
	require.Equal(t, voice.OpHello, m.Op)
	return ws
}

func send(t *testing.T, ws *websocket.Conn, s string) {
	t.Helper()
	require.NoError(t, ws.Write(context.Background(), websocket.MessageText, []byte(s)))
}

// closedWith reads until the connection closes and returns its code.
func closedWith(t *testing.T, ws *websocket.Conn) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, _, err := ws.Read(ctx)
		if err != nil {
			var ce websocket.CloseError
			require.True(t, errors.As(err, &ce), "not a close: %v", err)
			return int(ce.Code)
		}
	}
}

const identify = `{"op":0,"d":{"server_id":"g","user_id":"u","session_id":"s","token":"t"}}`

func TestCloseCodes(t *testing.T) {
	cases := []struct {
		name string
		opts []voicetest.Option
		path string
		msgs []string
		code int
	}{
		{"garbage", nil, "", []string{`{"op":`}, voice.CloseDecodeError},
		{"unknown op", nil, "", []string{`{"op":99,"d":{}}`}, voice.CloseUnknownOpcode},
		{"server's op", nil, "", []string{`{"op":2,"d":{}}`}, voice.CloseDecodeError},
		{"before identify", nil, "", []string{`{"op":1,"d":{"protocol":"udp","data":{"address":"127.0.0.1","port":1,"mode":"aead_aes256_gcm_rtpsize"}}}`}, voice.CloseNotAuthenticated},
		{"identify twice", nil, "", []string{identify, identify}, voice.CloseAlreadyAuthenticated},
		{"identify without ids", nil, "", []string{`{"op":0,"d":{"token":"t"}}`}, voice.CloseDecodeError},
		{"wrong token", []voicetest.Option{voicetest.WithAuthenticate(func(id voice.Identify) error { return errors.New("no") })}, "", []string{identify}, voice.CloseAuthenticationFailed},
		{"unknown server", []voicetest.Option{voicetest.WithAuthenticate(func(id voice.Identify) error { return &voice.CloseError{Code: voice.CloseServerNotFound} })}, "", []string{identify}, voice.CloseServerNotFound},
		{"DAVE required", []voicetest.Option{voicetest.WithRequireDAVE()}, "", []string{identify}, voice.CloseE2EERequired},
		{"unknown protocol", nil, "", []string{identify, `{"op":1,"d":{"protocol":"webrtc","data":{"address":"127.0.0.1","port":1,"mode":"aead_aes256_gcm_rtpsize"}}}`}, voice.CloseUnknownProtocol},
		{"xsalsa20", nil, "", []string{identify, `{"op":1,"d":{"protocol":"udp","data":{"address":"127.0.0.1","port":1,"mode":"xsalsa20_poly1305"}}}`}, voice.CloseUnknownEncryptionMode},
		{"plain aes-gcm", nil, "", []string{identify, `{"op":1,"d":{"protocol":"udp","data":{"address":"127.0.0.1","port":1,"mode":"aead_aes256_gcm"}}}`}, voice.CloseUnknownEncryptionMode},
		{"bad address", nil, "", []string{identify, `{"op":1,"d":{"protocol":"udp","data":{"address":"nowhere","port":1,"mode":"aead_aes256_gcm_rtpsize"}}}`}, voice.CloseBadRequest},
		{"resume unknown", nil, "", []string{`{"op":7,"d":{"server_id":"g","session_id":"nope","token":"t","seq_ack":1}}`}, voice.CloseSessionInvalid},
		{"old version", nil, "?v=3", nil, voice.CloseBadRequest},
		{"no heartbeat", []voicetest.Option{voicetest.WithHeartbeatInterval(50 * time.Millisecond)}, "", []string{identify}, voice.CloseSessionTimeout},
		{"rate limited", []voicetest.Option{voicetest.WithRateLimit(5)}, "", strings.Split(strings.Repeat(`{"op":3,"d":{"t":1,"seq_ack":-1}}|`, 8), "|")[:8], voice.CloseRateLimited},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, url := newServer(t, tc.opts...)
			var ws *websocket.Conn
			if tc.path != "" { // refused before Hello
				var err error
				ws, _, err = websocket.Dial(context.Background(), url+tc.path, nil)
				require.NoError(t, err)
				defer ws.CloseNow()
			} else {
				ws = raw(t, url)
			}
			for _, m := range tc.msgs {
				send(t, ws, m)
			}
			assert.Equal(t, tc.code, closedWith(t, ws))
		})
	}
}

func TestConnectErrors(t *testing.T) {
	t.Run("DAVE required", func(t *testing.T) {
		srv, _ := newServer(t, voicetest.WithRequireDAVE())
		_, err := connect(t, srv, "g", "u", voice.WithDAVE(false))
		var ce *voice.CloseError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, voice.CloseE2EERequired, ce.Code)
		assert.Contains(t, err.Error(), "DAVE off")
	})
	t.Run("no common mode", func(t *testing.T) {
		srv, _ := newServer(t, voicetest.WithModes(voice.ModeXChaCha20Poly1305))
		_, err := connect(t, srv, "g", "u", voice.WithModes(voice.ModeAES256GCM))
		assert.ErrorIs(t, err, voice.ErrNoMode)
	})
	t.Run("nobody there", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		url := "ws://" + l.Addr().String()
		l.Close()
		_, err = voice.Connect(context.Background(), voice.ServerUpdate{Endpoint: url, Token: "t", GuildID: "g"}, voice.StateUpdate{UserID: "u", SessionID: "s"})
		assert.ErrorIs(t, err, voice.ErrHandshake)
	})
}

// TestDisconnect: a session removed by the server ends its client for
// good, with 4014.
func TestDisconnect(t *testing.T) {
	srv, _ := newServer(t)
	c, err := connect(t, srv, "g", "u")
	require.NoError(t, err)
	defer c.Close()
	_, st := srv.Updates("g", "u")
	require.True(t, srv.Disconnect(st.SessionID))
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the client did not end")
	}
	var ce *voice.CloseError
	require.ErrorAs(t, c.Err(), &ce)
	assert.Equal(t, voice.CloseDisconnected, ce.Code)
	assert.ErrorIs(t, c.Send(frame(0)), c.Err())
}

// TestUDPGarbage sends the server's UDP socket what is not a session's
// packet: all rejected, none handed on.
func TestUDPGarbage(t *testing.T) {
	var h heard
	srv, _ := newServer(t, voicetest.WithPacketHandler(h.handle))
	c, err := connect(t, srv, "g", "u")
	require.NoError(t, err)
	defer c.Close()
	u, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(srv.UDPAddr()))
	require.NoError(t, err)
	defer u.Close()
	forged := make([]byte, 40)
	forged[0], forged[1] = 0x80, 0x78
	forged[11] = byte(c.SSRC()) // the right SSRC, the wrong key
	for _, p := range [][]byte{{1}, make([]byte, 11), voice.DiscoveryRequest(12345), forged, append([]byte{0x90}, forged[1:]...)} {
		_, err := u.Write(p)
		require.NoError(t, err)
	}
	waitFor(t, "the rejections", func() bool { return srv.Stats().Rejected == 5 })
	assert.Empty(t, h.get())
}

// FuzzServerMessages sends a real server a session of fuzzed control
// messages, one per line: whatever they hold, the server answers or
// closes with a code, never panics, and goes on serving others.
func FuzzServerMessages(f *testing.F) {
	for _, s := range []string{
		identify + "\n" + `{"op":1,"d":{"protocol":"udp","data":{"address":"127.0.0.1","port":9,"mode":"aead_aes256_gcm_rtpsize"}}}`,
		identify + "\n" + `{"op":5,"d":{"speaking":1,"ssrc":1}}` + "\n" + `{"op":3,"d":{"t":1,"seq_ack":99}}`,
		`{"op":7,"d":{"server_id":"g","session_id":"s","token":"t","seq_ack":-5}}`,
		identify + "\n" + identify,
		`{"op":3,"d":"x"}`, `{"op":1}`, `{"op":0,"d":null}`, "\x00\xff",
	} {
		f.Add(s)
	}
	_, url := newServer(f, voicetest.WithHeartbeatInterval(time.Second))
	f.Fuzz(func(t *testing.T, session string) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		ws, _, err := websocket.Dial(ctx, url, nil)
		require.NoError(t, err, "the server stopped serving")
		defer ws.CloseNow()
		_, _, err = ws.Read(ctx)
		require.NoError(t, err, "no Hello")
		for _, line := range strings.Split(session, "\n") {
			if ws.Write(ctx, websocket.MessageText, []byte(line)) != nil {
				break
			}
		}
		// Read what comes back until the server closes or goes quiet.
		rctx, rcancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer rcancel()
		for {
			_, b, err := ws.Read(rctx)
			if err != nil {
				break
			}
			_, err = voice.ParseMessage(b)
			require.NoError(t, err, "the server sent %q", b)
		}
	})
}

// TestTimeoutEndsSession: a session whose connection timed out (4009) is
// gone at once, so its client can identify anew with the same session ID,
// as Discord's documentation tells it to; it cannot resume.
func TestTimeoutEndsSession(t *testing.T) {
	srv, url := newServer(t, voicetest.WithHeartbeatInterval(50*time.Millisecond))
	ws := raw(t, url)
	send(t, ws, identify)
	assert.Equal(t, voice.CloseSessionTimeout, closedWith(t, ws))
	waitFor(t, "the session's end", func() bool { return srv.Stats().Sessions == 0 })

	again := raw(t, url)
	send(t, again, `{"op":7,"d":{"server_id":"g","session_id":"s","token":"t","seq_ack":1}}`)
	assert.Equal(t, voice.CloseSessionInvalid, closedWith(t, again), "no resume after 4009")

	c, err := voice.Connect(context.Background(), voice.ServerUpdate{Endpoint: url, Token: "t", GuildID: "g"}, voice.StateUpdate{UserID: "u", SessionID: "s"})
	require.NoError(t, err, "identify anew")
	c.Close()
}

// TestDropBoth loses the UDP socket while the control connection is down
// too: the new address is selected once the session has resumed, never
// before (which the server would refuse with 4003), and no packet is lost.
func TestDropBoth(t *testing.T) {
	var h heard
	srv, _ := newServer(t, voicetest.WithPacketHandler(h.handle), voicetest.WithHeartbeatInterval(heartbeat))
	c, err := connect(t, srv, "guild", "bot")
	require.NoError(t, err)
	defer c.Close()
	for i := range 60 {
		if i == 20 {
			c.DropControl()
			c.DropUDP()
		}
		require.NoError(t, c.Send(frame(i)))
	}
	waitFor(t, "the resume", func() bool { return c.Stats().Resumes == 1 })
	beats := c.Stats().Heartbeats
	waitFor(t, "60 packets", func() bool { return len(h.get()) == 60 })
	checkRun(t, h.get(), 60)
	waitFor(t, "a heartbeat on the resumed link", func() bool { return c.Stats().Heartbeats > beats })
	select {
	case <-c.Done():
		t.Fatalf("the connection ended: %v", c.Err())
	default:
	}
	assert.Equal(t, int64(1), c.Stats().Reopened)
	waitFor(t, "the new address selected", func() bool { return srv.Stats().Selected == 2 })
	assert.Zero(t, srv.Stats().Closed[voice.CloseNotAuthenticated])
}

// await reads ws until a message with op comes, and decodes it into v.
func await(t *testing.T, ws *websocket.Conn, op int, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, b, err := ws.Read(ctx)
		require.NoError(t, err, "waiting for op %d", op)
		m, err := voice.ParseMessage(b)
		require.NoError(t, err)
		if m.Op == op {
			require.NoError(t, m.Decode(v))
			return
		}
	}
}

// TestReselectKeepsReplayWindow selects AES-GCM, sends, selects
// XChaCha20 and then AES-GCM again with the session's one key: the
// datagrams heard before are all refused as replays when sent again.
func TestReselectKeepsReplayWindow(t *testing.T) {
	var h heard
	srv, url := newServer(t, voicetest.WithPacketHandler(h.handle))
	u, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(srv.UDPAddr()))
	require.NoError(t, err)
	defer u.Close()
	self := u.LocalAddr().(*net.UDPAddr)
	selectMode := func(mode string) string {
		return fmt.Sprintf(`{"op":1,"d":{"protocol":"udp","data":{"address":"127.0.0.1","port":%d,"mode":%q}}}`, self.Port, mode)
	}

	ws := raw(t, url)
	send(t, ws, identify)
	var ready voice.Ready
	await(t, ws, voice.OpReady, &ready)
	send(t, ws, selectMode(voice.ModeAES256GCM))
	var sd voice.SessionDescription
	await(t, ws, voice.OpSessionDescription, &sd)
	require.Equal(t, voice.ModeAES256GCM, sd.Mode)

	const n = 200
	c, err := sink.NewCipher(sd.Mode, sd.SecretKey[:])
	require.NoError(t, err)
	s := sink.NewSender(nil, sink.NewPacketizer(ready.SSRC), sink.WithCipher(c))
	sent := make([][]byte, n)
	for i := range sent {
		b, err := s.Build(frame(i))
		require.NoError(t, err)
		sent[i] = append([]byte(nil), b...)
	}
	// In batches, each taken before the next is sent, so that no socket
	// buffer overflows on a busy machine.
	sendAll := func(what string, counted func(voicetest.ServerStats) int64) {
		for i := 0; i < n; i += 50 {
			for _, b := range sent[i : i+50] {
				_, err := u.Write(b)
				require.NoError(t, err)
			}
			waitFor(t, what, func() bool { return counted(srv.Stats()) == int64(i+50) })
		}
	}
	sendAll("the packets", func(st voicetest.ServerStats) int64 { return st.Packets })

	for _, mode := range []string{voice.ModeXChaCha20Poly1305, voice.ModeAES256GCM} {
		send(t, ws, selectMode(mode))
		var again voice.SessionDescription
		await(t, ws, voice.OpSessionDescription, &again)
		require.Equal(t, mode, again.Mode)
		require.Equal(t, sd.SecretKey, again.SecretKey, "one key per session")
	}
	sendAll("the replays", func(st voicetest.ServerStats) int64 { return st.Packets + st.Rejected - n })
	st := srv.Stats()
	assert.Equal(t, int64(n), st.Packets, "replays accepted")
	assert.Equal(t, int64(n), st.Rejected, "replays rejected")
	assert.Len(t, h.get(), n)
}

// TestIdentifyAfterFailedResume: a client whose resume is refused with
// 4006 identifies anew with the same session ID by itself, as discord.js
// does; the session waiting for a resume is replaced at once, not after
// its resume window, and audio goes on with the new session.
func TestIdentifyAfterFailedResume(t *testing.T) {
	var refuse atomic.Bool
	var h heard
	ended := make(chan error, 2)
	srv, url := newServer(t,
		voicetest.WithResumeWindow(time.Minute),
		voicetest.WithPacketHandler(h.handle),
		voicetest.WithAuthenticate(func(voice.Identify) error {
			if refuse.CompareAndSwap(true, false) {
				return &voice.CloseError{Code: voice.CloseSessionInvalid, Reason: "refused for the test"}
			}
			return nil
		}),
		voicetest.WithSessionHandler(func(_ *voicetest.Session, err error) { ended <- err }))
	c, err := connect(t, srv, "guild", "bot")
	require.NoError(t, err)
	defer c.Close()
	first := c.SSRC()
	for i := range 10 {
		require.NoError(t, c.Send(frame(i)))
	}
	waitFor(t, "10 packets", func() bool { return len(h.get()) == 10 })

	refuse.Store(true) // the resume that follows is refused
	c.DropControl()
	select {
	case err := <-ended:
		assert.ErrorIs(t, err, voicetest.ErrReplaced)
	case <-time.After(30 * time.Second):
		t.Fatal("the old session was not replaced")
	}
	waitFor(t, "the new session", func() bool { return c.Stats().Reidentified == 1 })
	assert.NotEqual(t, first, c.SSRC(), "a new session")
	for i := 10; i < 20; i++ {
		require.NoError(t, c.Send(frame(i)))
	}
	waitFor(t, "20 packets", func() bool { return len(h.get()) == 20 })
	checkTimeline(t, h.get(), 20)
	st := srv.Stats()
	assert.Equal(t, 1, st.Sessions)
	assert.Zero(t, st.Waiting)
	assert.Equal(t, int64(2), st.Opened)
	select {
	case <-c.Done():
		t.Fatalf("the connection ended: %v", c.Err())
	default:
	}

	// A session on a live connection keeps its ID.
	su, state := srv.Updates("guild", "bot")
	ws := raw(t, url)
	send(t, ws, fmt.Sprintf(`{"op":0,"d":{"server_id":%q,"user_id":%q,"session_id":%q,"token":%q}}`, su.GuildID, state.UserID, state.SessionID, su.Token))
	assert.Equal(t, voice.CloseSessionInvalid, closedWith(t, ws))
	require.NoError(t, c.Send(frame(20)), "the live session goes on")
	waitFor(t, "21 packets", func() bool { return len(h.get()) == 21 })
}

// TestKeepAlive: discord.js's 8-byte UDP keep-alives are counted as such,
// not as rejected datagrams.
func TestKeepAlive(t *testing.T) {
	srv, _ := newServer(t)
	c, err := connect(t, srv, "g", "u")
	require.NoError(t, err)
	defer c.Close()
	u, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(srv.UDPAddr()))
	require.NoError(t, err)
	defer u.Close()
	for i := range 3 {
		_, err := u.Write(voice.KeepAlive(uint32(i)))
		require.NoError(t, err)
	}
	_, err = u.Write([]byte{1, 0, 0, 0, 0, 0, 0, 1}) // 8 bytes, not a keep-alive
	require.NoError(t, err)
	waitFor(t, "the datagrams", func() bool { return srv.Stats().KeepAlives+srv.Stats().Rejected == 4 })
	st := srv.Stats()
	assert.Equal(t, int64(3), st.KeepAlives)
	assert.Equal(t, int64(1), st.Rejected)
}

// TestBinaryWithoutDAVE: a binary frame from a session without DAVE
// closes it with 4001 (its ops are unknown there); before Identify, 4003.
func TestBinaryWithoutDAVE(t *testing.T) {
	_, url := newServer(t)
	ws := raw(t, url)
	require.NoError(t, ws.Write(context.Background(), websocket.MessageBinary, []byte{26, 1, 2}))
	assert.Equal(t, voice.CloseNotAuthenticated, closedWith(t, ws))

	ws = raw(t, url)
	send(t, ws, identify)
	require.NoError(t, ws.Write(context.Background(), websocket.MessageBinary, []byte{26, 1, 2}))
	assert.Equal(t, voice.CloseUnknownOpcode, closedWith(t, ws))
}
