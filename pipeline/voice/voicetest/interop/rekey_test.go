package interop_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
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

// track is the Go client's frames sent in real time, each with the DAVE
// epoch its sender was at before the frame was given to Send.
type track struct {
	conn   *voice.Conn
	frames [][]byte
	stop   chan struct{}
	done   chan struct{}

	mu     sync.Mutex // guards sent, epochs and at
	sent   int
	epochs []uint64
	at     []time.Time // when each frame was given to Send
}

// maxTrack bounds a track: 40 s of frames.
const maxTrack = 2000

// playTrack starts sending frames every 20 ms until stop is called or
// maxTrack frames have gone.
func playTrack(t *testing.T, conn *voice.Conn) *track {
	t.Helper()
	tr := &track{
		conn:   conn,
		frames: testutil.OpusLink(t, 7, 2, 312, maxTrack, true).Packets,
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go func() {
		defer close(tr.done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i, p := range tr.frames {
			select {
			case <-tr.stop:
				return
			case <-tick.C:
			}
			epoch, at := conn.DAVE().Stats().SendEpoch, time.Now()
			if conn.Send(opus.Packet{Data: p, Samples: 960, Timestamp: int64(i) * 960}) != nil {
				return
			}
			tr.mu.Lock()
			tr.sent++
			tr.epochs = append(tr.epochs, epoch)
			tr.at = append(tr.at, at)
			tr.mu.Unlock()
		}
	}()
	t.Cleanup(tr.end)
	return tr
}

// end stops the track and waits for its goroutine.
func (tr *track) end() {
	select {
	case <-tr.stop:
	default:
		close(tr.stop)
	}
	<-tr.done
}

// count returns how many frames have been sent, and how many of them at
// epoch or later.
func (tr *track) count(epoch uint64) (sent, since int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for _, e := range tr.epochs {
		if e >= epoch {
			since++
		}
	}
	return tr.sent, since
}

// firstAt returns the index of the first frame sent at epoch or later.
func (tr *track) firstAt(epoch uint64) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	for i, e := range tr.epochs {
		if e >= epoch {
			return i
		}
	}
	return tr.sent
}

// epochAt returns the epoch of frame i.
func (tr *track) epochAt(i int) uint64 {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.epochs[i]
}

// around describes frames i-2 to i+2: each one's epoch and when it was
// sent.
func (tr *track) around(i int) string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var b strings.Builder
	for j := max(i-2, 0); j <= min(i+2, tr.sent-1); j++ {
		fmt.Fprintf(&b, "%s frame %d sent (epoch %d)\n", clock(tr.at[j]), j, tr.epochs[j])
	}
	return b.String()
}

// clock is t's time of day, UTC, to the millisecond, as client.js writes
// it in its log.
func clock(t time.Time) string { return t.UTC().Format("15:04:05.000") }

// deliveries logs what a voicetest server's DAVE layer sends (ops 27, 29
// and 30), with the time: its WithDeliveryTamper function.
type deliveries struct {
	mu  sync.Mutex // guards log
	log strings.Builder
}

func (d *deliveries) tamper(userID uint64, op int, payload []byte) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(&d.log, "%s op %d", clock(time.Now()), op)
	if (op == voice.OpDAVEMLSAnnounceCommitTransition || op == voice.OpDAVEMLSWelcome) && len(payload) >= 2 {
		fmt.Fprintf(&d.log, " (transition %d)", binary.BigEndian.Uint16(payload))
	}
	fmt.Fprintf(&d.log, " sent to %s\n", voiceUser(userID))
	return payload
}

func (d *deliveries) String() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// awaitSince waits until n frames have been sent at epoch or later.
func (tr *track) awaitSince(t *testing.T, epoch uint64, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d frames sent at epoch %d", n, epoch), func() bool { _, s := tr.count(epoch); return s >= n },
		func() string {
			s, e := tr.count(epoch)
			return fmt.Sprintf("%d sent, %d at epoch %d or later", s, e, epoch)
		})
}

// TestDiscordJSRekey has the Go client play a track to discord.js
// clients while one joins and then another leaves: the group re-keys
// twice, the audio goes on, the client that stays hears every frame from
// the first its sender encrypted under the epoch of its join (no frame
// sent after the transition executed is lost), and the client that
// leaves heard every frame until it left.
func TestDiscordJSRekey(t *testing.T) {
	nodetest.Need(t, nodeErr)
	var delivered deliveries
	srv := voicetest.NewServer(voicetest.WithDAVEServer(voicetest.WithDeliveryTamper(delivered.tamper)), voicetest.WithRequireDAVE())
	t.Cleanup(func() { srv.Close() })
	ca := newTestCA(t)
	endpoint := serveTLS(t, ca, srv)
	conn := connectGo(t, srv, goUser)
	spec := func(user string) joinSpec {
		return joinSpec{guild: guildID, user: user, endpoint: endpoint, ca: ca.file, dave: true, listen: []string{goUser}}
	}

	first := startDJS(t, srv, spec(djsUser))
	e1 := settle(t, srv, conn, map[string]*djs{djsUser: first})
	require.NoError(t, conn.Speaking(voice.SpeakingMicrophone))
	first.awaitSSRC(goUser, conn.SSRC())
	tr := playTrack(t, conn)
	tr.awaitSince(t, e1, 25)

	// A member joins mid-track.
	second := startDJS(t, srv, spec(djsUser2))
	// voicetest tells a joiner none of the Speaking sent before it
	// joined, and discord.js's receiver drops the packets of an SSRC it
	// cannot name: the Go client announces itself again, with other
	// flags, as a Conn sends only a change. The frames sent before the
	// joiner could name it are not counted as lost.
	require.NoError(t, conn.Speaking(voice.SpeakingMicrophone|voice.SpeakingPriority))
	second.awaitSSRC(goUser, conn.SSRC())
	named, _ := tr.count(0)
	e2 := settle(t, srv, conn, map[string]*djs{djsUser: first, djsUser2: second})
	tr.awaitSince(t, e2, 25)

	// Another leaves: the first hears all that was sent before it goes.
	n, _ := tr.count(e2)
	first.awaitPackets(goUser, n)
	first.leave()
	e3 := settle(t, srv, conn, map[string]*djs{djsUser2: second})
	tr.awaitSince(t, e3, 25)
	tr.end()

	sent, _ := tr.count(0)
	all := tr.frames[:sent]
	heardFirst := dataOf(first.packets[goUser])
	assert.Empty(t, frameDiff(all[:len(heardFirst)], heardFirst), "the track at the member that left (epochs %d and %d)", e1, e2)
	assert.GreaterOrEqual(t, len(heardFirst), n, "frames heard by the member that left")

	last := all[sent-1]
	second.await("the track's last frame", func(e event) bool { return e.Event == "packet" && string(e.Data) == string(last) })
	// discord.js hands its receiver's subscribers the frames it cannot
	// decrypt yet, before its group is ready, as they came: DAVE frames
	// of the epoch before its join. They are counted apart.
	heardSecond := dataOf(second.packets[goUser])
	sentSet := make(map[string]bool, sent)
	for _, f := range all {
		sentSet[string(f)] = true
	}
	raw := 0
	for raw < len(heardSecond) && !sentSet[string(heardSecond[raw])] && bytes.HasSuffix(heardSecond[raw], daveMarker) {
		raw++
	}
	heardSecond = heardSecond[raw:]
	from := sent - len(heardSecond) // the first frame it heard, if it heard a run to the end
	if from < 0 {
		from = 0
	}
	got := make(map[string]bool, len(heardSecond))
	for _, f := range heardSecond {
		got[string(f)] = true
	}
	var lost []string
	var around strings.Builder
	counted := max(tr.firstAt(e2), named)
	for i := counted; i < sent; i++ {
		if !got[string(all[i])] {
			lost = append(lost, fmt.Sprintf("frame %d (epoch %d)", i, tr.epochAt(i)))
			around.WriteString(tr.around(i))
		}
	}
	if !assert.Empty(t, lost, "frames sent at epoch %d or later, from frame %d, lost at the member that joined", e2, counted) {
		t.Logf("the server's DAVE deliveries:\n%s\nthe Go client's frames around those lost:\n%s\ndiscord.js client %s's log:\n%s",
			&delivered, around.String(), djsUser2, second.proc.Stderr())
	}
	assert.Empty(t, frameDiff(all[from:], heardSecond), "the track at the member that joined, from frame %d (epoch %d from frame %d, epoch %d from frame %d)",
		from, e2, tr.firstAt(e2), e3, tr.firstAt(e3))
	gs := conn.DAVE().Stats()
	t.Logf("track of %d frames: epoch %d from frame 0, %d from frame %d (join), %d from frame %d (leave); "+
		"the member that left heard %d (all %d sent before it left); the member that joined was handed %d DAVE frames it could not decrypt yet, then heard %d, from frame %d (it could name the sender from frame %d), lost %v of those sent after both; "+
		"Go sender: %d encrypted, %d without a key; server: %+v",
		sent, e1, e2, tr.firstAt(e2), e3, tr.firstAt(e3),
		len(heardFirst), n, raw, len(heardSecond), from, named, lost, gs.Encrypted, gs.NoKey, srv.DAVE().Stats())
	second.leave()
}
