package voice_test

import (
	"context"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// plainFrames is a frame encryptor that sends each frame as it is: a
// member of the group whose frames are not encrypted.
type plainFrames struct{}

func (plainFrames) MaxEncryptedFrameSize(n int) int { return n }

func (plainFrames) Encrypt(_ uint32, frame, dst []byte) (int, error) {
	return copy(dst, frame), nil
}

// windowPair is alice, whose DAVE layer keeps the time of clock, and
// bob, a member of her group who sends his frames not encrypted.
type windowPair struct {
	ch    *daveChannel
	clock *pipeline.FakeClock
	a, b  *member
	sent  int
}

func newWindowPair(t *testing.T) *windowPair {
	ch := newDAVEChannel(t)
	ch.plainOK.Store(true) // bob's frames are in the clear on purpose
	p := &windowPair{ch: ch, clock: pipeline.NewFakeClock(time.Unix(2_000_000, 0))}
	p.a = join(t, ch, "alice", voice.WithDAVEClock(p.clock.Now))
	p.b = join(t, ch, "bob", voice.WithSenderOptions(sink.WithFrameEncryptor(plainFrames{})))
	settled(t, p.a, p.b)
	return p
}

// accepted sends bob's next frame and waits until alice has heard it.
func (p *windowPair) accepted(t *testing.T, what string) {
	t.Helper()
	heard := len(p.a.from("bob"))
	require.NoError(t, p.b.conn.Send(daveFrame("bob", p.sent)))
	want := string(daveFrame("bob", p.sent).Data)
	p.sent++
	waitFor(t, what+": alice hearing bob's frame not encrypted", func() bool { return len(p.a.from("bob")) == heard+1 })
	assert.Equal(t, want, p.a.from("bob")[heard], what)
}

// refused sends bob's next frame and waits until alice has refused it;
// she heard nothing more of bob.
func (p *windowPair) refused(t *testing.T, what string) {
	t.Helper()
	heard := len(p.a.from("bob"))
	refused := p.a.conn.DAVE().Stats().Refused
	require.NoError(t, p.b.conn.Send(daveFrame("bob", p.sent)))
	p.sent++
	waitFor(t, what+": alice refusing bob's frame not encrypted", func() bool {
		return p.a.conn.DAVE().Stats().Refused == refused+1
	})
	assert.Len(t, p.a.from("bob"), heard, what)
}

// TestDAVEPassthroughWindow: after an upgrade's transition executes, a
// member's frames not encrypted pass for PassthroughWindow on the
// receiver's clock, and are refused once it has passed; before any
// downgrade they are refused from the start.
func TestDAVEPassthroughWindow(t *testing.T) {
	p := newWindowPair(t)
	p.refused(t, "the first group")

	require.True(t, p.ch.srv.DAVE().Downgrade("guild"))
	waitFor(t, "the downgrade", func() bool {
		return p.a.conn.DAVE().Stats().ProtocolVersion == 0 && p.b.conn.DAVE().Stats().ProtocolVersion == 0
	})
	p.accepted(t, "downgraded")
	p.clock.Advance(time.Hour)
	p.accepted(t, "downgraded, an hour later")

	require.True(t, p.ch.srv.DAVE().Upgrade("guild"))
	settled(t, p.a, p.b)
	require.Equal(t, 1, p.a.conn.DAVE().Stats().ProtocolVersion)
	p.accepted(t, "upgraded")
	p.clock.Advance(voice.PassthroughWindow - time.Second)
	p.accepted(t, "a second before the window ends")
	p.clock.Advance(2 * time.Second)
	p.refused(t, "a second after the window")
	p.clock.Advance(time.Hour)
	p.refused(t, "an hour after the window")
}

// TestDAVEDowngradeWindow: while a downgrade is prepared and not yet
// executed (a member not ready holds it), a member's frames not
// encrypted pass for DowngradeWindow on the receiver's clock, then are
// refused; once the downgrade executes they pass for good.
func TestDAVEDowngradeWindow(t *testing.T) {
	p := newWindowPair(t)
	x := p.ch.srv.DAVE()
	mute := &muteE2EE{in: make(chan [2][]byte, 16)}
	connect(t, p.ch.srv, "guild", "mute", voice.WithE2EE(mute))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select { // sent once the server has it as a member
	case in := <-mute.in:
		require.Equal(t, voice.OpDAVEMLSExternalSender, int(in[0][0]))
	case <-ctx.Done():
		t.Fatal("the mute member got no external sender")
	}
	p.refused(t, "before the downgrade")

	executed := x.Stats().Executed
	prepared := p.a.conn.DAVE().Stats().Prepared
	require.True(t, x.Downgrade("guild"))
	waitFor(t, "alice preparing the downgrade", func() bool { return p.a.conn.DAVE().Stats().Prepared == prepared+1 })
	p.accepted(t, "the downgrade prepared")
	p.clock.Advance(voice.DowngradeWindow - time.Second)
	p.accepted(t, "a second before the downgrade window ends")
	p.clock.Advance(2 * time.Second)
	p.refused(t, "a second after the downgrade window")
	assert.Equal(t, executed, x.Stats().Executed, "the downgrade executed without the mute member")
	assert.Equal(t, 1, p.a.conn.DAVE().Stats().ProtocolVersion)

	require.NoError(t, p.ch.clock.BlockUntilWaiting(ctx, 1))
	p.ch.clock.Advance(2 * time.Second) // the server's transition timeout
	waitFor(t, "the downgrade executed", func() bool { return p.a.conn.DAVE().Stats().ProtocolVersion == 0 })
	p.accepted(t, "downgraded")
	p.clock.Advance(time.Hour)
	p.accepted(t, "downgraded, an hour later")
}
