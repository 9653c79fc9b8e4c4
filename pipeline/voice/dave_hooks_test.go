package voice_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/pipeline/voice"
	"github.com/streamcatcher/streamcatcher/pipeline/voice/voicetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// e2ee is a client's end-to-end layer that records what the Conn hands
// it.
type e2ee struct {
	version int
	mu      sync.Mutex
	got     []string
	ch      chan string
}

func newE2EE(version int) *e2ee { return &e2ee{version: version, ch: make(chan string, 16)} }

func (e *e2ee) MaxProtocolVersion() int { return e.version }

func (e *e2ee) record(s string) {
	e.mu.Lock()
	e.got = append(e.got, s)
	e.mu.Unlock()
	e.ch <- s
}

func (e *e2ee) SessionDescribed(v int) { e.record("described " + string(rune('0'+v))) }

func (e *e2ee) HandleMessage(m voice.Message) { e.record("op " + itoa(m.Op)) }

func (e *e2ee) HandleBinary(op int, payload []byte) {
	e.record("binary " + itoa(op) + " " + string(payload))
}

func itoa(n int) string { return string(rune('0'+n/10)) + string(rune('0'+n%10)) }

// daveHook is a server's DAVE layer that records what it is handed and
// greets each session joining with the external sender (op 25) and a
// prepare epoch (op 24).
type daveHook struct {
	ch chan string
}

func (h *daveHook) Join(ss *voicetest.Session) {
	h.ch <- "join " + ss.UserID
	ss.SendBinary(voice.OpDAVEMLSExternalSender, []byte("sender"))
	ss.Send(voice.NewMessage(voice.OpDAVEPrepareEpoch, map[string]int{"protocol_version": 1, "epoch": 1}))
}

func (h *daveHook) Leave(ss *voicetest.Session) { h.ch <- "leave " + ss.UserID }

func (h *daveHook) HandleMessage(ss *voicetest.Session, m voice.Message) error {
	h.ch <- "op " + itoa(m.Op)
	return nil
}

func (h *daveHook) HandleBinary(ss *voicetest.Session, op int, payload []byte) error {
	h.ch <- "binary " + itoa(op) + " " + string(payload)
	return nil
}

func next(t *testing.T, ch chan string) string {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(30 * time.Second):
		t.Fatal("nothing came")
		return ""
	}
}

// TestDAVEAdmission: a server that requires DAVE refuses a client
// without it (4017, the error saying that DAVE is off); without a DAVE
// layer of the caller's it plays Discord's part with its DAVEServer; with
// one, the client is described with version 1 and the DAVE messages flow
// both ways, binary frames included.
func TestDAVEAdmission(t *testing.T) {
	t.Run("client without DAVE", func(t *testing.T) {
		srv := newServer(t, voicetest.WithRequireDAVE(), voicetest.WithDAVE(&daveHook{ch: make(chan string, 16)}))
		su, st := srv.Updates("guild", "bot")
		_, err := voice.Connect(context.Background(), su, st, voice.WithDAVE(false))
		var ce *voice.CloseError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, voice.CloseE2EERequired, ce.Code)
		assert.Contains(t, err.Error(), "WithDAVE(false)", "the error says why")
	})
	t.Run("server without a DAVE layer of its own", func(t *testing.T) {
		srv := newServer(t, voicetest.WithRequireDAVE())
		require.NotNil(t, srv.DAVE(), "WithRequireDAVE installs voicetest's DAVEServer")
		c := connect(t, srv, "guild", "bot")
		waitFor(t, "the key package", func() bool { return c.DAVE().Stats().KeyPackages == 1 })
		assert.Equal(t, 1, c.DAVE().Stats().ProtocolVersion)
	})
	t.Run("DAVE", func(t *testing.T) {
		hook := &daveHook{ch: make(chan string, 16)}
		srv := newServer(t, voicetest.WithRequireDAVE(), voicetest.WithDAVE(hook))
		e := newE2EE(1)
		c := connect(t, srv, "guild", "bot", voice.WithE2EE(e))
		assert.Equal(t, "described 1", next(t, e.ch))
		assert.Equal(t, "join bot", next(t, hook.ch))
		assert.Equal(t, "binary 25 sender", next(t, e.ch))
		assert.Equal(t, "op 24", next(t, e.ch))

		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, c.SendBinary(ctx, voice.OpDAVEMLSKeyPackage, []byte("key package")))
		assert.Equal(t, "binary 26 key package", next(t, hook.ch))
		require.NoError(t, c.SendMessage(ctx, voice.NewMessage(voice.OpDAVETransitionReady, map[string]int{"transition_id": 1})))
		assert.Equal(t, "op 23", next(t, hook.ch))
		assert.Equal(t, int64(1), c.Stats().Binary)

		// A second member: the first hears it join (op 11), and the hook
		// sees it come and go.
		other := connect(t, srv, "guild", "friend", voice.WithE2EE(newE2EE(1)))
		assert.Equal(t, "join friend", next(t, hook.ch))
		assert.Equal(t, "op 11", next(t, e.ch))
		require.NoError(t, other.Close())
		assert.Equal(t, "leave friend", next(t, hook.ch))
		assert.Equal(t, "op 13", next(t, e.ch))
		notEnded(t, c)
	})
	t.Run("DAVE not required", func(t *testing.T) {
		hook := &daveHook{ch: make(chan string, 16)}
		srv := newServer(t, voicetest.WithDAVE(hook))
		e := newE2EE(0)
		c := connect(t, srv, "guild", "bot", voice.WithE2EE(e))
		assert.Equal(t, "described 0", next(t, e.ch))
		require.NoError(t, c.Send(frame(0)))
		select {
		case s := <-hook.ch:
			t.Fatalf("the hook was handed a session without DAVE: %s", s)
		default:
		}
	})
}

// TestBinaryWithoutE2EE: a client with DAVE off ignores DAVE's binary
// frames and messages (counted) and carries on.
func TestBinaryWithoutE2EE(t *testing.T) {
	srv := newServer(t)
	c := connect(t, srv, "guild", "bot", voice.WithDAVE(false))
	ss := srv.Session("session-guild-bot")
	require.NotNil(t, ss)
	ss.SendBinary(voice.OpDAVEMLSExternalSender, []byte("sender"))
	ss.Send(voice.NewMessage(voice.OpDAVEPrepareEpoch, map[string]int{"epoch": 1}))
	waitFor(t, "the frame and the message", func() bool { return c.Stats().Ignored >= 2 })
	assert.Equal(t, int64(1), c.Stats().Binary)
	notEnded(t, c)
}
