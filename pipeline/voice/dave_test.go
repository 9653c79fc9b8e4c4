package voice_test

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave"
	"github.com/streamcatcher/streamcatcher/pipeline/voice/voicetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// daveChannel is a voicetest server that requires DAVE, its transition
// timeout on a fake clock that tests advance, or not, and a check of
// every packet it relays: DAVE-encrypted (the 0xFAFA marker), or the
// silence frame, unless plainOK is set (a downgrade).
type daveChannel struct {
	srv     *voicetest.Server
	clock   *pipeline.FakeClock
	plainOK atomic.Bool
	packets atomic.Int64
	plain   atomic.Int64 // frames relayed in the clear while they must not be
}

func newDAVEChannel(t *testing.T, opts ...voicetest.DAVEOption) *daveChannel {
	ch := &daveChannel{clock: pipeline.NewFakeClock(time.Unix(1_000_000, 0))}
	ch.srv = newServer(t, voicetest.WithRequireDAVE(),
		voicetest.WithDAVEServer(append([]voicetest.DAVEOption{voicetest.WithDAVEClock(ch.clock)}, opts...)...),
		voicetest.WithPacketHandler(func(_ *voicetest.Session, p sink.Opened, _ time.Time) {
			ch.packets.Add(1)
			encrypted := len(p.Payload) > 11 && bytes.HasSuffix(p.Payload, []byte{0xFA, 0xFA})
			if !encrypted && string(p.Payload) != opus.SilenceFrame && !ch.plainOK.Load() {
				ch.plain.Add(1)
			}
		}))
	return ch
}

// member is a client in a DAVE channel that records what it hears, by
// sender.
type member struct {
	user string
	conn *voice.Conn

	mu    sync.Mutex // guards heard
	heard map[string][]string
	done  chan struct{}
}

func join(t *testing.T, ch *daveChannel, user string, opts ...voice.Option) *member {
	t.Helper()
	m := &member{user: user, heard: map[string][]string{}, done: make(chan struct{})}
	m.conn = connect(t, ch.srv, "guild", user, append([]voice.Option{voice.WithReceive(4096)}, opts...)...)
	go func() {
		defer close(m.done)
		for r := range m.conn.Receive() { // closed once Close has returned
			m.mu.Lock()
			m.heard[r.UserID] = append(m.heard[r.UserID], string(r.Opus))
			m.mu.Unlock()
		}
	}()
	t.Cleanup(func() { // before connect's, which would wait
		m.conn.Close()
		<-m.done
	})
	return m
}

func (m *member) from(user string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.heard[user]...)
}

// daveFrame is frame i of user: what it sends and the others must hear.
func daveFrame(user string, i int) opus.Packet {
	return opus.Packet{Data: []byte(fmt.Sprintf("%s frame %05d", user, i)), Samples: 960, Timestamp: int64(i) * 960}
}

// settled waits until the members are one group: the same epoch, the
// same members and privacy code, and each sending under the epoch's key,
// every transition it prepared executed. (A sole member that reset keeps
// its old group's key until the new group's transition executes, and both
// groups' epochs can be 1: SendEpoch alone does not tell them apart.)
// It returns the epoch.
func settled(t *testing.T, ms ...*member) uint64 {
	t.Helper()
	var epoch uint64
	waitFor(t, fmt.Sprintf("a group of %d", len(ms)), func() bool {
		s0 := ms[0].conn.DAVE().Stats()
		code := ms[0].conn.DAVE().PrivacyCode()
		for _, m := range ms {
			s := m.conn.DAVE().Stats()
			if s.Epoch == 0 || s.Epoch != s0.Epoch || s.SendEpoch != s.Epoch || s.Prepared != s.Executed || s.Members != len(ms) || m.conn.DAVE().PrivacyCode() != code {
				return false
			}
		}
		epoch = s0.Epoch
		return true
	})
	return epoch
}

// TestDAVEGroup: three Go clients in a channel that requires DAVE; each
// frame any of them sends is DAVE-decrypted by the two others, byte-equal
// and in order, and every frame the server relays is DAVE-encrypted.
func TestDAVEGroup(t *testing.T) {
	ch := newDAVEChannel(t)
	users := []string{"alice", "bob", "carol"}
	var ms []*member
	for _, u := range users {
		ms = append(ms, join(t, ch, u))
	}
	epoch := settled(t, ms...)
	const n = 50
	for i := range n {
		for _, m := range ms {
			require.NoError(t, m.conn.Send(daveFrame(m.user, i)))
		}
	}
	for _, r := range ms {
		for _, s := range ms {
			if r == s {
				continue
			}
			waitFor(t, r.user+" hearing "+s.user, func() bool { return len(r.from(s.user)) >= n })
			got := r.from(s.user)
			require.Len(t, got, n)
			for i, f := range got {
				assert.Equal(t, string(daveFrame(s.user, i).Data), f, "%s heard from %s", r.user, s.user)
			}
		}
		st := r.conn.DAVE().Stats()
		assert.Equal(t, uint64(n), st.Encrypted, "%s", r.user)
		assert.Zero(t, st.Refused, "%s", r.user)
	}
	assert.Zero(t, ch.plain.Load(), "frames relayed in the clear")
	assert.Equal(t, int64(3*n), ch.packets.Load())
	t.Logf("epoch %d; %d frames sent, each decrypted by the 2 others; %d relayed in the clear", epoch, 3*n, ch.plain.Load())
}

// sender sends its member's frames every few milliseconds until stopped,
// noting the epoch each was sent under (0: no key, not sent).
type sender struct {
	m      *member
	mu     sync.Mutex // guards epochs
	epochs []uint64   // by frame
	stop   chan struct{}
	done   chan struct{}
}

func startSending(t *testing.T, m *member) *sender {
	s := &sender{m: m, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for i := 0; ; i++ {
			select {
			case <-s.stop:
				return
			case <-time.After(3 * time.Millisecond): // pacing, not a check
			}
			e := m.conn.DAVE().Stats().SendEpoch
			if m.conn.Send(daveFrame(m.user, i)) != nil {
				return
			}
			s.mu.Lock()
			s.epochs = append(s.epochs, e)
			s.mu.Unlock()
		}
	}()
	t.Cleanup(s.halt)
	return s
}

func (s *sender) halt() {
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	<-s.done
}

// count returns how many frames were sent.
func (s *sender) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.epochs)
}

// checkHeard checks what r heard of s: byte-equal frames in order, and
// every frame sent under an epoch at or after from (r's first). It
// returns the frames from the since'th on, sent under an earlier epoch,
// that r did not hear: lost to the transition before it executed.
func checkHeard(t *testing.T, r *member, s *sender, from uint64, since int) (must, lost int) {
	t.Helper()
	s.mu.Lock()
	epochs := append([]uint64(nil), s.epochs...)
	s.mu.Unlock()
	want := map[string]bool{}
	for i, e := range epochs {
		if e != 0 && e >= from {
			want[string(daveFrame(s.m.user, i).Data)] = true
		}
	}
	defer func() {
		if t.Failed() {
			heard := map[string]bool{}
			for _, f := range r.from(s.m.user) {
				heard[f] = true
			}
			for i, e := range epochs {
				f := string(daveFrame(s.m.user, i).Data)
				if want[f] && !heard[f] {
					t.Logf("missing %q epoch %d", f, e)
				}
			}
			t.Logf("%s: %+v %+v", r.user, r.conn.Stats(), r.conn.DAVE().Stats())
			t.Logf("%s: %+v %+v", s.m.user, s.m.conn.Stats(), s.m.conn.DAVE().Stats())
		}
	}()
	waitFor(t, r.user+" hearing "+s.m.user, func() bool {
		n := 0
		for _, f := range r.from(s.m.user) {
			if want[f] {
				n++
			}
		}
		return n == len(want)
	})
	got := r.from(s.m.user)
	heard := map[string]bool{}
	last := ""
	for _, f := range got {
		assert.Greater(t, f, last, "%s heard %s's frames out of order", r.user, s.m.user)
		last = f
		heard[f] = true
	}
	for i, e := range epochs {
		if i >= since && e != 0 && e < from && !heard[string(daveFrame(s.m.user, i).Data)] {
			lost++
		}
	}
	return len(want), lost
}

// TestDAVEJoinLeave: while three members talk, a fourth joins and then
// one leaves; the group re-keys each time and the audio goes on: every
// frame sent under an epoch a member is in is heard by it, byte-equal
// and in order; the frames the joiner could not hear were all sent before
// its transition executed.
func TestDAVEJoinLeave(t *testing.T) {
	ch := newDAVEChannel(t)
	a, b, c := join(t, ch, "alice"), join(t, ch, "bob"), join(t, ch, "carol")
	e0 := settled(t, a, b, c)
	senders := map[string]*sender{}
	for _, m := range []*member{a, b, c} {
		senders[m.user] = startSending(t, m)
	}
	waitFor(t, "frames before the join", func() bool { return senders["carol"].count() >= 20 })

	joined := map[string]int{} // the frames each had sent when dave joined
	for u, s := range senders {
		joined[u] = s.count()
	}
	d := join(t, ch, "dave")
	senders["dave"] = startSending(t, d)
	e1 := settled(t, a, b, c, d)
	waitFor(t, "frames after the join", func() bool { return senders["dave"].count() >= 20 })

	// Carol stops talking and, once heard, leaves (her frames still on
	// their way after her Client Disconnect would find her SSRC unknown).
	sent, must, lost := 0, 0, 0
	firstOf := func(r *member) uint64 {
		if r == d {
			return e1
		}
		return e0
	}
	sinceOf := func(r *member, s *sender) int {
		if r == d {
			return joined[s.m.user]
		}
		return 0
	}
	senders["carol"].halt()
	for _, r := range []*member{a, b, d} {
		m, l := checkHeard(t, r, senders["carol"], firstOf(r), sinceOf(r, senders["carol"]))
		must, lost = must+m, lost+l
	}
	require.NoError(t, c.conn.Close())
	e2 := settled(t, a, b, d)
	n := senders["alice"].count()
	waitFor(t, "frames after the leave", func() bool { return senders["alice"].count() >= n+20 })
	for _, s := range senders {
		s.halt()
	}

	require.Greater(t, e1, e0)
	require.Greater(t, e2, e1)
	for _, s := range senders {
		sent += s.count()
	}
	for _, r := range []*member{a, b, d} {
		for _, s := range senders {
			if s.m == r || s.m == c {
				continue
			}
			m, l := checkHeard(t, r, s, firstOf(r), sinceOf(r, s))
			must, lost = must+m, lost+l
			if r != d {
				assert.Zero(t, l, "%s lost frames of %s", r.user, s.m.user)
			}
		}
	}
	assert.Zero(t, ch.plain.Load(), "frames relayed in the clear")
	t.Logf("epochs %d → %d (join) → %d (leave); %d frames sent, %d that had to be heard all heard; %d frames sent after dave joined lost to the join, all before its transition executed",
		e0, e1, e2, sent, must, lost)
}

// TestDAVECommitRace: two members commit the same epoch, at the group's
// creation and when a third joins: the server takes the first commit of
// each epoch and drops the other; the loser joins from the welcome (at
// creation) or takes the winner's commit, and all hear each other.
func TestDAVECommitRace(t *testing.T) {
	ch := newDAVEChannel(t)
	x := ch.srv.DAVE()
	a, b := join(t, ch, "alice"), join(t, ch, "bob")
	e1 := settled(t, a, b)
	assert.Equal(t, uint64(1), e1)
	st := x.Stats()
	assert.Equal(t, int64(1), st.Commits, "one commit wins the epoch")
	assert.Equal(t, int64(1), st.Rejected, "the other is dropped")
	assert.Equal(t, int64(1), a.conn.DAVE().Stats().Commits, "alice committed")
	assert.Equal(t, int64(1), b.conn.DAVE().Stats().Commits, "bob committed")

	c := join(t, ch, "carol")
	e2 := settled(t, a, b, c)
	assert.Equal(t, uint64(2), e2)
	st = x.Stats()
	assert.Equal(t, int64(2), st.Commits)
	assert.Equal(t, int64(2), st.Rejected, "alice's or bob's commit of epoch 1 dropped")
	for _, m := range []*member{a, b, c} {
		assert.Zero(t, m.conn.DAVE().Stats().Invalid, "%s", m.user)
		require.NoError(t, m.conn.Send(daveFrame(m.user, 0)))
	}
	for _, r := range []*member{a, b, c} {
		for _, s := range []*member{a, b, c} {
			if r != s {
				waitFor(t, r.user+" hearing "+s.user, func() bool { return len(r.from(s.user)) == 1 })
				assert.Equal(t, string(daveFrame(s.user, 0).Data), r.from(s.user)[0])
			}
		}
	}
	assert.Zero(t, ch.plain.Load())
}

// TestDAVEInvalidWelcome: the server corrupts the welcome of carol's
// join; carol cannot process it and sends op 31 with a new key package;
// the server stops awaiting her, alice and bob go to the join's epoch,
// and her key package removes and adds her again: a new epoch whose
// welcome she processes. Then each member decrypts every other's frames,
// byte-equal, in order, and none was relayed in the clear.
func TestDAVEInvalidWelcome(t *testing.T) {
	var corrupted atomic.Int64
	carol := voice.Snowflake("carol")
	ch := newDAVEChannel(t, voicetest.WithDeliveryTamper(func(user uint64, op int, payload []byte) []byte {
		if user != carol || op != int(dave.OpWelcome) || !corrupted.CompareAndSwap(0, 1) {
			return payload
		}
		bad := bytes.Clone(payload)
		for i := 2; i < len(bad); i++ { // past the transition id
			bad[i] ^= 0x5a
		}
		return bad
	}))
	x := ch.srv.DAVE()
	a, b := join(t, ch, "alice"), join(t, ch, "bob")
	e1 := settled(t, a, b)

	c := join(t, ch, "carol")
	waitFor(t, "carol's op 31", func() bool { return x.Stats().Invalid == 1 })
	assert.Equal(t, int64(1), corrupted.Load(), "welcomes corrupted")
	e3 := settled(t, a, b, c)
	assert.Equal(t, e1+2, e3, "the join's epoch, then carol's removal and addition again")
	st := x.Stats()
	assert.Equal(t, int64(1), st.Invalid, "op 31 received")
	assert.Equal(t, int64(4), st.KeyPackages, "key packages: one each, and carol's again")
	assert.Len(t, x.Members("guild"), 3, "members")
	assert.Zero(t, st.TimedOut, "transitions executed at the timeout: carol's op 31 ends the wait for her")
	cs := c.conn.DAVE().Stats()
	assert.Equal(t, int64(1), cs.Invalid, "op 31 sent by carol")
	assert.Equal(t, int64(2), cs.KeyPackages, "key packages sent by carol")
	for _, m := range []*member{a, b} {
		assert.Zero(t, m.conn.DAVE().Stats().Invalid, "op 31 sent by %s", m.user)
	}

	for i := 0; i < 3; i++ {
		for _, m := range []*member{a, b, c} {
			require.NoError(t, m.conn.Send(daveFrame(m.user, i)))
		}
	}
	for _, r := range []*member{a, b, c} {
		for _, s := range []*member{a, b, c} {
			if r != s {
				waitFor(t, r.user+" hearing "+s.user, func() bool { return len(r.from(s.user)) >= 3 })
				assert.Equal(t, []string{string(daveFrame(s.user, 0).Data), string(daveFrame(s.user, 1).Data), string(daveFrame(s.user, 2).Data)},
					r.from(s.user), "%s hearing %s", r.user, s.user)
			}
		}
	}
	assert.Zero(t, ch.plain.Load(), "frames relayed in the clear")
	t.Logf("epochs %d, then %d; server: %+v; carol: %+v", e1, e3, st, cs)
}

// TestDAVEDowngrade: the server downgrades the channel to version 0 and
// back: the members send in the clear once the downgrade has executed,
// and encrypted again once the new group's transition has; every frame
// is heard either way.
func TestDAVEDowngrade(t *testing.T) {
	ch := newDAVEChannel(t)
	a, b := join(t, ch, "alice"), join(t, ch, "bob")
	settled(t, a, b)
	i := 0
	talk := func(what string) {
		t.Helper()
		for _, m := range []*member{a, b} {
			require.NoError(t, m.conn.Send(daveFrame(m.user, i)))
		}
		for _, r := range []*member{a, b} {
			s := a
			if r == a {
				s = b
			}
			waitFor(t, what+": "+r.user+" hearing "+s.user, func() bool { return len(r.from(s.user)) == i+1 })
			assert.Equal(t, string(daveFrame(s.user, i).Data), r.from(s.user)[i], what)
		}
		i++
	}
	talk("DAVE")

	ch.plainOK.Store(true)
	require.True(t, ch.srv.DAVE().Downgrade("guild"))
	waitFor(t, "the downgrade", func() bool {
		return a.conn.DAVE().Stats().ProtocolVersion == 0 && b.conn.DAVE().Stats().ProtocolVersion == 0
	})
	talk("downgraded")
	assert.Equal(t, uint64(1), a.conn.DAVE().Stats().Passthrough, "sent in the clear")

	require.True(t, ch.srv.DAVE().Upgrade("guild"))
	settled(t, a, b)
	ch.plainOK.Store(false)
	talk("upgraded")
	for _, m := range []*member{a, b} {
		st := m.conn.DAVE().Stats()
		assert.Equal(t, 1, st.ProtocolVersion)
		assert.Equal(t, uint64(2), st.Encrypted, "%s", m.user)
		assert.Zero(t, st.Refused, "%s", m.user)
	}
	assert.Zero(t, ch.plain.Load(), "frames relayed in the clear while DAVE was on")
}

// TestDAVESoleMember: when one member is left, the server resets the
// group (op 24, a new key package) and a new member makes a new group
// with it.
func TestDAVESoleMember(t *testing.T) {
	ch := newDAVEChannel(t)
	a, b := join(t, ch, "alice"), join(t, ch, "bob")
	settled(t, a, b)
	require.NoError(t, b.conn.Close())
	waitFor(t, "alice's new key package", func() bool { return a.conn.DAVE().Stats().KeyPackages == 2 })
	c := join(t, ch, "carol")
	assert.Equal(t, uint64(1), settled(t, a, c), "a new group")
	require.NoError(t, a.conn.Send(daveFrame("alice", 0)))
	waitFor(t, "carol hearing alice", func() bool { return len(c.from("alice")) == 1 })
	assert.Zero(t, ch.plain.Load())
}

// TestDAVENoKeyNoAudio: a member alone in a DAVE channel has no key: its
// frames are not sent, counted, and never in the clear; the silence frame
// goes as it is.
func TestDAVENoKeyNoAudio(t *testing.T) {
	ch := newDAVEChannel(t)
	a := join(t, ch, "alice")
	waitFor(t, "the key package", func() bool { return a.conn.DAVE().Stats().KeyPackages == 1 })
	for i := range 3 {
		require.NoError(t, a.conn.Send(daveFrame("alice", i)))
	}
	require.NoError(t, a.conn.Send(opus.Packet{Data: []byte(opus.SilenceFrame), Samples: 960, Timestamp: 3 * 960, Silence: true}))
	waitFor(t, "the frames refused", func() bool { return a.conn.DAVE().Stats().NoKey == 3 })
	waitFor(t, "the silence frame", func() bool { return ch.packets.Load() == 1 })
	assert.Zero(t, ch.plain.Load())
	assert.Equal(t, int64(1), a.conn.Stats().Sent)
}

// muteE2EE is a DAVE member that never says it is ready for a
// transition (op 23): what it is handed goes to the test, which answers.
type muteE2EE struct{ in chan [2][]byte }

func (e *muteE2EE) MaxProtocolVersion() int       { return 1 }
func (e *muteE2EE) SessionDescribed(int)          {}
func (e *muteE2EE) HandleMessage(m voice.Message) {}
func (e *muteE2EE) HandleBinary(op int, payload []byte) {
	e.in <- [2][]byte{{byte(op)}, bytes.Clone(payload)}
}

// newMuteSession returns the mute member's dave.Session, which knows
// alice and bob.
func newMuteSession(user string) (*dave.Session, error) {
	s, err := dave.NewSession(voice.Snowflake(user), voice.Snowflake("guild"))
	if err != nil {
		return nil, err
	}
	s.RecognizeUsers(voice.Snowflake("alice"), voice.Snowflake("bob"))
	return s, nil
}

// TestDAVETransitionTimeout: a transition whose members are not all
// ready executes when the server's timeout passes on its clock, not
// before.
func TestDAVETransitionTimeout(t *testing.T) {
	ch := newDAVEChannel(t)
	x := ch.srv.DAVE()
	a, b := join(t, ch, "alice"), join(t, ch, "bob")
	e1 := settled(t, a, b)
	executed := x.Stats().Executed

	mute := &muteE2EE{in: make(chan [2][]byte, 16)}
	c := connect(t, ch.srv, "guild", "mute", voice.WithE2EE(mute))
	sess, err := newMuteSession("mute")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for welcomed := false; !welcomed; {
		var in [2][]byte
		select {
		case in = <-mute.in:
		case <-ctx.Done():
			t.Fatal("the mute member got no welcome")
		}
		switch int(in[0][0]) {
		case voice.OpDAVEMLSExternalSender:
			require.NoError(t, sess.SetExternalSender(in[1]))
			kp, err := sess.KeyPackage()
			require.NoError(t, err)
			require.NoError(t, c.SendBinary(ctx, voice.OpDAVEMLSKeyPackage, kp))
		case voice.OpDAVEMLSWelcome:
			_, err := sess.ProcessWelcome(in[1])
			require.NoError(t, err)
			welcomed = true // and no op 23
		}
	}
	waitFor(t, "alice and bob ready", func() bool {
		return a.conn.DAVE().Stats().Epoch == e1+1 && b.conn.DAVE().Stats().Epoch == e1+1
	})
	require.NoError(t, ch.clock.BlockUntilWaiting(ctx, 1))
	assert.Equal(t, executed, x.Stats().Executed, "executed without the mute member's op 23")
	assert.Equal(t, e1, a.conn.DAVE().Stats().SendEpoch)

	ch.clock.Advance(2 * time.Second)
	waitFor(t, "the transition at the timeout", func() bool {
		return a.conn.DAVE().Stats().SendEpoch == e1+1 && b.conn.DAVE().Stats().SendEpoch == e1+1
	})
	assert.Equal(t, int64(1), x.Stats().TimedOut)
}
