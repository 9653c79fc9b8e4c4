package voice_test

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
	"github.com/streamcatcher/streamcatcher/pipeline/voice/voicetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// heard is what servers' packet handlers received, in order.
type heard struct {
	mu   sync.Mutex
	pkts []heardPacket
}

type heardPacket struct {
	user    string
	ssrc    uint32
	seq     uint16
	ts      uint32
	payload string
}

func (h *heard) handle(s *voicetest.Session, p sink.Opened, _ time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pkts = append(h.pkts, heardPacket{s.UserID, p.SSRC, p.Sequence, p.Timestamp, string(p.Payload)})
}

func (h *heard) get() []heardPacket {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]heardPacket(nil), h.pkts...)
}

func (h *heard) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.pkts)
}

func newServer(t *testing.T, opts ...voicetest.Option) *voicetest.Server {
	t.Helper()
	srv := voicetest.NewServer(opts...)
	t.Cleanup(func() { srv.Close() })
	return srv
}

func connect(t *testing.T, srv *voicetest.Server, guild, user string, opts ...voice.Option) *voice.Conn {
	t.Helper()
	su, st := srv.Updates(guild, user)
	c, err := voice.Connect(context.Background(), su, st, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

func frame(i int) opus.Packet {
	return opus.Packet{Data: []byte(fmt.Sprintf("frame %04d", i)), Samples: 960, Timestamp: int64(i) * 960}
}

// waitFor polls cond; only a failing run waits long.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkTimeline checks that frames [from, from+len(got)) were heard in
// order on one RTP timeline: the sequence and the timestamp continued,
// whatever the sessions (SSRCs) that carried them.
func checkTimeline(t *testing.T, got []heardPacket, from int) {
	t.Helper()
	for i, p := range got {
		assert.Equal(t, fmt.Sprintf("frame %04d", from+i), p.payload, "packet %d", i)
		assert.Equal(t, got[0].seq+uint16(i), p.seq, "packet %d: sequence", i)
		assert.Equal(t, got[0].ts+uint32(960*i), p.ts, "packet %d: timestamp", i)
	}
}

func notEnded(t *testing.T, c *voice.Conn) {
	t.Helper()
	select {
	case <-c.Done():
		t.Fatalf("the connection ended: %v", c.Err())
	default:
	}
}

// TestReidentify: the server drops the session with 4006 or 4009; the
// Conn identifies anew by itself (a new SSRC), and the audio goes on on
// the same RTP timeline, without a packet lost.
func TestReidentify(t *testing.T) {
	for _, code := range []int{voice.CloseSessionInvalid, voice.CloseSessionTimeout} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			var h heard
			srv := newServer(t, voicetest.WithPacketHandler(h.handle))
			c := connect(t, srv, "guild", "bot")
			first := c.SSRC()
			for i := range 20 {
				require.NoError(t, c.Send(frame(i)))
			}
			waitFor(t, "20 packets", func() bool { return h.count() == 20 })
			_, st := srv.Updates("guild", "bot")
			require.True(t, srv.Kick(st.SessionID, code, "dropped for the test"))
			waitFor(t, "the new session", func() bool { return c.Stats().Reidentified == 1 })
			assert.NotEqual(t, first, c.SSRC())
			for i := 20; i < 40; i++ {
				require.NoError(t, c.Send(frame(i)))
			}
			waitFor(t, "40 packets", func() bool { return h.count() == 40 })
			got := h.get()
			checkTimeline(t, got, 0)
			assert.Equal(t, first, got[19].ssrc)
			assert.Equal(t, c.SSRC(), got[20].ssrc)
			notEnded(t, c)
			assert.Equal(t, int64(2), srv.Stats().Opened)
		})
	}
}

// TestFinalCloseCodes: a close that forbids coming back ends the Conn,
// with an error naming the code; Send then returns it.
func TestFinalCloseCodes(t *testing.T) {
	for _, code := range []int{voice.CloseAuthenticationFailed, voice.CloseDisconnected, voice.CloseCallTerminated} {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			srv := newServer(t)
			c := connect(t, srv, "guild", "bot")
			_, st := srv.Updates("guild", "bot")
			require.True(t, srv.Kick(st.SessionID, code, "for the test"))
			select {
			case <-c.Done():
			case <-time.After(30 * time.Second):
				t.Fatal("the connection did not end")
			}
			var ce *voice.CloseError
			require.ErrorAs(t, c.Err(), &ce)
			assert.Equal(t, code, ce.Code)
			assert.Contains(t, c.Err().Error(), fmt.Sprintf("(%d)", code))
			assert.ErrorIs(t, c.Send(frame(0)), c.Err())
			assert.Equal(t, int64(1), srv.Stats().Opened, "not identified again")
			assert.Zero(t, c.Stats().Reidentified)
		})
	}
}

// TestRegionMove: a later VOICE_SERVER_UPDATE moves the Conn to another
// server; the first sees the client leave, and the second hears the
// packets sent after the move on the RTP timeline the first heard, none
// lost.
func TestRegionMove(t *testing.T) {
	var ha, hb heard
	left := make(chan error, 1)
	a := newServer(t, voicetest.WithPacketHandler(ha.handle), voicetest.WithSessionHandler(func(_ *voicetest.Session, err error) { left <- err }))
	b := newServer(t, voicetest.WithPacketHandler(hb.handle))
	c := connect(t, a, "guild", "bot")
	for i := range 30 {
		require.NoError(t, c.Send(frame(i)))
	}
	waitFor(t, "30 packets on the first server", func() bool { return ha.count() == 30 })

	su, _ := b.Updates("guild", "bot")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, c.UpdateServer(ctx, su))
	select {
	case err := <-left:
		assert.NoError(t, err, "the client left the first server")
	case <-time.After(30 * time.Second):
		t.Fatal("the first server still has the session")
	}
	for i := 30; i < 60; i++ {
		require.NoError(t, c.Send(frame(i)))
	}
	waitFor(t, "30 packets on the second server", func() bool { return hb.count() == 30 })
	got := append(ha.get(), hb.get()...)
	checkTimeline(t, got, 0)
	assert.Equal(t, int64(1), c.Stats().Moves)
	assert.Zero(t, c.Stats().Dropped)
	assert.Zero(t, a.Stats().Sessions)
	assert.Equal(t, 1, b.Stats().Sessions)
	notEnded(t, c)
}

// TestSchedulerDrivesConn: a Scheduler on a FakeClock plays a track into
// a Conn (conn.Send is the listener's send function): the server hears
// every packet in order, the Conn announces Speaking before the audio and
// stops speaking after the player's five silence frames, and no
// goroutine is started per packet.
func TestSchedulerDrivesConn(t *testing.T) {
	tr, err := pipeline.NewTrack(pipeline.OpenFile("../../testdata/prog.opus"))
	require.NoError(t, err)
	defer tr.Close()
	<-tr.Done()

	var h heard
	var speaking []int
	var smu sync.Mutex
	srv := newServer(t, voicetest.WithPacketHandler(h.handle))
	watcher := connect(t, srv, "guild", "watcher", voice.WithMessageHandler(func(m voice.Message) {
		var sp voice.Speaking
		if m.Op == voice.OpSpeaking && m.Decode(&sp) == nil {
			smu.Lock()
			speaking = append(speaking, sp.Speaking)
			smu.Unlock()
		}
	}))
	_ = watcher
	c := connect(t, srv, "guild", "bot")

	clock := pipeline.NewFakeClock(time.Unix(1_000_000, 0))
	sched := pipeline.NewScheduler(pipeline.WithClock(clock), pipeline.WithShards(1))
	defer sched.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, clock.BlockUntilWaiting(ctx, 1))
	l := sched.Add(tr.NewPlayer(), c.Send)
	tick := func() {
		clock.Advance(20 * time.Millisecond)
		require.NoError(t, clock.BlockUntilWaiting(ctx, 1))
	}
	for range 5 {
		tick()
	}
	waitFor(t, "the first packets", func() bool { return h.count() > 0 })
	before := runtime.NumGoroutine()
	peak := before
	for range 100 {
		tick()
		peak = max(peak, runtime.NumGoroutine())
	}
	assert.LessOrEqual(t, peak, before+2, "goroutines while 100 packets were sent")
	for {
		select {
		case <-l.Done():
		default:
			tick()
			continue
		}
		break
	}
	require.NoError(t, l.Err())
	st := l.Stats()
	waitFor(t, "every packet", func() bool { return int64(h.count()) == st.Packets })
	checkPlayed(t, h.get())
	waitFor(t, "the end of speaking", func() bool {
		smu.Lock()
		defer smu.Unlock()
		return len(speaking) >= 2 && speaking[len(speaking)-1] == 0
	})
	smu.Lock()
	assert.Equal(t, voice.SpeakingMicrophone, speaking[0], "speaking before the audio")
	smu.Unlock()
	assert.Equal(t, st.Packets, c.Stats().Sent)
}

// checkPlayed checks a run of packets: contiguous sequence numbers,
// timestamps that never go back, the last five silence frames.
func checkPlayed(t *testing.T, got []heardPacket) {
	t.Helper()
	require.Greater(t, len(got), 5)
	for i := 1; i < len(got); i++ {
		assert.Equal(t, got[i-1].seq+1, got[i].seq, "packet %d", i)
		assert.GreaterOrEqual(t, got[i].ts-got[i-1].ts, uint32(960), "packet %d", i)
	}
	for _, p := range got[len(got)-5:] {
		assert.Equal(t, opus.SilenceFrame, p.payload)
	}
}

// TestReceive: two clients in a channel each hear the other's packets,
// with the sender's user ID, decrypted end to end by the FrameDecryptor.
func TestReceive(t *testing.T) {
	srv := newServer(t)
	opts := []voice.Option{
		voice.WithReceive(64),
		voice.WithSenderOptions(sink.WithFrameEncryptor(xorFrames{})),
		voice.WithFrameDecryptor(xorFrames{}),
	}
	a := connect(t, srv, "guild", "alice", opts...)
	b := connect(t, srv, "guild", "bob", opts...)
	for _, tc := range []struct {
		from, to *voice.Conn
		name     string
	}{{a, b, "alice"}, {b, a, "bob"}} {
		for i := range 10 {
			require.NoError(t, tc.from.Send(frame(i)))
		}
		for i := range 10 {
			select {
			case r := <-tc.to.Receive():
				assert.Equal(t, tc.name, r.UserID)
				assert.Equal(t, tc.from.SSRC(), r.SSRC)
				assert.Equal(t, fmt.Sprintf("frame %04d", i), string(r.Opus))
			case <-time.After(30 * time.Second):
				t.Fatalf("%s's packet %d not heard: %+v %+v %+v", tc.name, i, tc.to.Stats(), tc.from.Stats(), srv.Stats())
			}
		}
	}
	assert.Equal(t, int64(10), a.Stats().Received)
	assert.Zero(t, a.Stats().DecryptFailed)
	assert.Zero(t, b.Stats().ReceiveDropped)
}

// xorFrames is a stand-in end-to-end layer: every byte XORed with 0x5a.
type xorFrames struct{}

func (xorFrames) MaxEncryptedFrameSize(n int) int { return n }

func (xorFrames) Encrypt(_ uint32, frame, dst []byte) (int, error) {
	for i, b := range frame {
		dst[i] = b ^ 0x5a
	}
	return len(frame), nil
}

func (xorFrames) Decrypt(user string, frame []byte) ([]byte, error) {
	if user == "" {
		return nil, fmt.Errorf("a frame from an unknown sender")
	}
	out := make([]byte, len(frame))
	for i, b := range frame {
		out[i] = b ^ 0x5a
	}
	return out, nil
}
