package interop_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/nodetest"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
	"github.com/streamcatcher/streamcatcher/pipeline/voice/voicetest"
)

// wait bounds every wait for the other side: only a failing run waits so
// long, and a machine ten times slower than a developer's still passes.
const wait = time.Minute

// event is one line of client.js's output.
type event struct {
	Event     string
	Mode      string
	SSRC      uint32
	Dave      bool
	User      string
	Seq       uint16
	Timestamp uint32
	Data      []byte // base64 in the JSON
	Count     int
	Sent      int
	Code      int
	Message   string
	ID        int
	Version   int
	Pending   int
	Epoch     string
	Ready     bool
	// PrivacyCode is null in the JSON without a DAVE group.
	PrivacyCode string
	Members     []string
	// Frame and Parsed are a misread event's frame and what the
	// receiver's parsing made of it (base64 in the JSON).
	Frame, Parsed []byte
}

// djs is a discord.js voice client in its own node process.
type djs struct {
	t    *testing.T
	user string
	proc *nodetest.Process
	// ready is the client's last ready event.
	ready event
	// packets are the frames it received, by sender, in order.
	packets map[string][]event
	// ssrcs are the SSRCs its receiver has named, by user.
	ssrcs map[string]uint32
}

// joinSpec says whom a discord.js client joins as, and where (the
// channel is the one voicetest.Server's Updates gives).
type joinSpec struct {
	guild, user string
	// endpoint is the server's TLS listener, host:port.
	endpoint string
	// ca is the file of the CA that issued the listener's certificate.
	ca string
	// dave is discord.js's daveEncryption option.
	dave bool
	// listen are the users whose audio it subscribes to.
	listen []string
}

// startDJS starts a discord.js client joining srv's channel of
// spec.guild as spec.user and waits for it to be ready.
func startDJS(t *testing.T, srv *voicetest.Server, spec joinSpec) *djs {
	t.Helper()
	d := startJoining(t, srv, spec)
	d.ready = d.await("ready", func(e event) bool { return e.Event == "ready" })
	return d
}

// startJoining starts a discord.js client joining srv's channel of
// spec.guild as spec.user.
func startJoining(t *testing.T, srv *voicetest.Server, spec joinSpec) *djs {
	t.Helper()
	nodetest.Need(t, nodeErr)
	su, st := srv.Updates(spec.guild, spec.user)
	d := &djs{
		t:       t,
		user:    spec.user,
		proc:    nodetest.Start(t, "client.js", "NODE_EXTRA_CA_CERTS="+spec.ca),
		packets: make(map[string][]event),
		ssrcs:   make(map[string]uint32),
	}
	d.proc.Send(map[string]any{
		"cmd": "join", "guild": spec.guild, "channel": st.ChannelID, "user": spec.user,
		"session": st.SessionID, "endpoint": spec.endpoint, "token": su.Token,
		"dave": spec.dave, "listen": spec.listen,
	})
	return d
}

// next reads the client's next event, keeping the packets and SSRCs and
// failing the test on an error; false if none came before deadline.
func (d *djs) next(deadline time.Time) (event, bool) {
	d.t.Helper()
	line, ok := d.proc.Within(time.Until(deadline))
	if !ok {
		return event{}, false
	}
	var e event
	require.NoError(d.t, json.Unmarshal(line, &e), "discord.js client %s: %s", d.user, line)
	switch e.Event {
	case "packet":
		d.packets[e.User] = append(d.packets[e.User], e)
	case "ssrc":
		d.ssrcs[e.User] = e.SSRC
	case "error":
		d.t.Fatalf("discord.js client %s: %s\n%s", d.user, e.Message, d.proc.Stderr())
	}
	return e, true
}

// await reads events until one satisfies cond.
func (d *djs) await(what string, cond func(event) bool) event {
	d.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		e, ok := d.next(deadline)
		if !ok {
			d.t.Fatalf("discord.js client %s: no %s within %v\n%s", d.user, what, wait, d.proc.Stderr())
		}
		if cond(e) {
			return e
		}
	}
}

// awaitPackets reads events until n frames from user have come.
func (d *djs) awaitPackets(user string, n int) []event {
	d.t.Helper()
	deadline := time.Now().Add(wait)
	for len(d.packets[user]) < n {
		if _, ok := d.next(deadline); !ok {
			d.t.Fatalf("discord.js client %s: %d of %d frames from %s within %v\n%s", d.user, len(d.packets[user]), n, user, wait, d.proc.Stderr())
		}
	}
	return d.packets[user]
}

// awaitSSRC waits until the client's receiver names ssrc as user's:
// it drops the packets of an SSRC it cannot name.
func (d *djs) awaitSSRC(user string, ssrc uint32) {
	d.t.Helper()
	if d.ssrcs[user] == ssrc {
		return
	}
	d.await(user+"'s SSRC", func(e event) bool { return d.ssrcs[user] == ssrc })
}

// speak has the client send Speaking now.
func (d *djs) speak() {
	d.t.Helper()
	d.proc.Send(map[string]any{"cmd": "speak"})
}

// play has the client play packets and waits for its player to finish.
// It returns how many packets the connection has sent in all, the
// player's silence frames included.
func (d *djs) play(packets [][]byte) int {
	d.t.Helper()
	d.proc.Send(map[string]any{"cmd": "play", "packets": packets})
	e := d.await("end of playing", func(e event) bool { return e.Event == "played" })
	require.Equal(d.t, len(packets), e.Count)
	return e.Sent
}

// state asks for the client's DAVE state.
func (d *djs) state() event {
	d.t.Helper()
	d.proc.Send(map[string]any{"cmd": "state"})
	return d.await("its state", func(e event) bool { return e.Event == "state" })
}

// leave destroys the client's connection.
func (d *djs) leave() {
	d.t.Helper()
	d.proc.Send(map[string]any{"cmd": "leave"})
	d.await("leave", func(e event) bool { return e.Event == "left" })
}

// heardPacket is a packet as the server authenticated it.
type heardPacket struct {
	seq     uint16
	payload []byte
}

// heard records, per user, the packets the server authenticated.
type heard struct {
	mu    sync.Mutex // guards users
	users map[string][]heardPacket
}

func newHeard() *heard { return &heard{users: make(map[string][]heardPacket)} }

// handle is the server's packet handler.
func (h *heard) handle(s *voicetest.Session, p sink.Opened, _ time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.users[s.UserID] = append(h.users[s.UserID], heardPacket{p.Sequence, append([]byte(nil), p.Payload...)})
}

// of returns the packets of user heard so far.
func (h *heard) of(user string) []heardPacket {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]heardPacket(nil), h.users[user]...)
}

// waitFor polls cond until it holds, failing the test after wait with
// what and what show says.
func waitFor(t *testing.T, what string, cond func() bool, show func() string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %s", what, show())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// frameDiff describes the first difference between the frames a party
// got and those sent, or returns "" if they agree: count, bytes, order.
func frameDiff(sent, got [][]byte) string {
	for i := range min(len(sent), len(got)) {
		if string(sent[i]) != string(got[i]) {
			where := "a frame never sent"
			for j := range sent {
				if string(sent[j]) == string(got[i]) {
					where = fmt.Sprintf("frame %d sent there", j)
					break
				}
			}
			return fmt.Sprintf("frame %d: got %x (%s); want %x", i, got[i], where, sent[i])
		}
	}
	if len(got) != len(sent) {
		return fmt.Sprintf("got %d frames; want %d", len(got), len(sent))
	}
	return ""
}

// consecutive reports the first break in a run of RTP sequence numbers,
// or "" if each is the one before plus one.
func consecutive(seqs []uint16) string {
	var b strings.Builder
	for i := 1; i < len(seqs); i++ {
		if seqs[i] != seqs[i-1]+1 {
			fmt.Fprintf(&b, "sequence %d after %d at packet %d; ", seqs[i], seqs[i-1], i)
		}
	}
	return b.String()
}

// connectGo joins srv's channel of guildID as user with a Go voice.Conn
// that receives, closed at the test's cleanup.
func connectGo(t *testing.T, srv *voicetest.Server, user string, opts ...voice.Option) *voice.Conn {
	t.Helper()
	conn, err := connectErr(srv, user, opts...)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// connectErr is connectGo's Connect, for a test of its error.
func connectErr(srv *voicetest.Server, user string, opts ...voice.Option) (*voice.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	su, st := srv.Updates(guildID, user)
	return voice.Connect(ctx, su, st, append([]voice.Option{voice.WithReceive(1024)}, opts...)...)
}

// receiveFrom reads the Go client's packets into got, by sender, until
// it has n from user.
func receiveFrom(t *testing.T, conn *voice.Conn, got map[string][][]byte, user string, n int) {
	t.Helper()
	timeout := time.After(wait)
	for len(got[user]) < n {
		select {
		case r := <-conn.Receive():
			got[r.UserID] = append(got[r.UserID], r.Opus)
		case <-timeout:
			t.Fatalf("the Go client received %d of %s's %d frames within %v; %+v", len(got[user]), user, n, wait, conn.Stats())
		}
	}
}
