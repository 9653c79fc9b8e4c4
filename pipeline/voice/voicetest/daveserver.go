package voicetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave"
)

// DAVEServer is voicetest's DAVE layer, Discord's part in DAVE: for each
// channel a dave.ExternalSender (the MLS external sender; its group id is
// the channel's, which for voicetest is the guild's: voice.Snowflake of
// Identify's server_id), and the delivery of key packages, proposals,
// commits and welcomes, the choice of the winning commit and the
// transitions:
//
//	a session joins           op 25 (the external sender); op 21 transition
//	                          0 to version 0 if the channel is downgraded
//	op 26 key package         op 27 external Adds to the others (before the
//	                          first commit: the other pending users)
//	op 28 commit (+welcome)   the first valid one of an epoch wins: op 29 to
//	                          the members, op 30 (only its own secrets) to each
//	                          joiner; later ones are dropped (Rejected); under
//	                          WithCommitGate, held until n have come
//	op 23 ready               op 22 once every member of the transition is
//	                          ready, or the transition timeout has passed
//	a session leaves          op 27 Remove to the others, the same cycle; the
//	                          sole member left gets op 24 epoch 1 (a new
//	                          group) and op 21 transition 0
//	op 31 invalid             the member no longer awaited; its new key
//	                          package removes and adds it again
//
// Downgrade and Upgrade play a server-initiated change of protocol
// version. It relays frames and never decrypts them: it has no key of
// the groups, as Discord has none.
//
// NewServer installs one under WithRequireDAVE or WithDAVEServer; it is
// safe for concurrent use, and Close (called by the Server's) ends its
// timers.
type DAVEServer struct {
	timeout time.Duration
	clock   pipeline.Clock
	ctx     context.Context // ends at Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup // the transitions' timers

	gate   int                                                // commits held per epoch before the first is taken; set once
	tamper func(userID uint64, op int, payload []byte) []byte // WithDeliveryTamper's; set once

	mu       sync.Mutex // guards channels; held while sending, which never blocks
	channels map[string]*daveChannel

	stats daveServerCounters
}

// daveChannel is one channel's DAVE state.
type daveChannel struct {
	x           *dave.ExternalSender
	members     map[uint64]*Session // the sessions joined, by user
	version     int                 // 1, or 0 once downgraded
	nextID      uint16              // the last transition id given
	transitions map[uint16]*daveTransition
	held        []heldCommit // the epoch's commits held by the gate, in order of arrival
}

// heldCommit is a commit (op 28) held by WithCommitGate.
type heldCommit struct {
	ss      *Session
	payload []byte
}

// daveTransition is a transition waiting for its members' op 23.
type daveTransition struct {
	id      uint16
	version int
	to      map[uint64]bool // who gets op 22
	waiting map[uint64]bool // who has not sent op 23
	cancel  context.CancelFunc
}

type daveServerCounters struct {
	keyPackages, commits, rejected, held, executed, timedOut, invalid atomic.Int64
}

// DAVEStats are a DAVEServer's counters.
type DAVEStats struct {
	KeyPackages int64 // key packages taken (op 26)
	Commits     int64 // commits that won their epoch (op 28)
	Rejected    int64 // commits dropped: another won the epoch, or invalid
	Held        int64 // commits held by WithCommitGate until their epoch's n had come
	Executed    int64 // transitions executed (op 22 sent)
	TimedOut    int64 // of those, executed at the timeout without every op 23
	Invalid     int64 // op 31 received
}

// DAVEOption configures a DAVEServer.
type DAVEOption func(*DAVEServer)

// WithTransitionTimeout sets how long a transition waits for its
// members' op 23 before it executes anyway (default 2 s, as Discord's).
func WithTransitionTimeout(d time.Duration) DAVEOption {
	return func(x *DAVEServer) { x.timeout = d }
}

// WithDAVEClock sets the clock of the transition timeout (default the
// system's; a test's pipeline.FakeClock, so that nothing times out
// until it is advanced).
func WithDAVEClock(c pipeline.Clock) DAVEOption { return func(x *DAVEServer) { x.clock = c } }

// WithCommitGate makes the server hold the commits (op 28) of each
// epoch until n have arrived, then take them in their order of arrival:
// the first valid one wins and the others are dropped (Rejected), as
// when n members commit the same epoch at once and each commits before
// the server announces any. It is meant for tests of commit races; the
// commits of an epoch with fewer than n committers are held until the
// group is reset (and those of a session that has left are dropped). A
// commit held that is not valid is counted as Rejected rather than
// closing its session. n of 1 or less: each commit taken as it comes
// (the default).
func WithCommitGate(n int) DAVEOption { return func(x *DAVEServer) { x.gate = n } }

// WithDeliveryTamper makes the server pass each op 27, 29 and 30 it
// sends through f, with the DAVE id (voice.Snowflake) of the user it
// goes to, and send what f returns in its place: a test corrupts a
// commit or welcome to one member to see it refused (op 31) and the
// member removed and added again. f is called with the server's lock
// held and must not block or call the server; it must not modify
// payload, which other deliveries may share.
func WithDeliveryTamper(f func(userID uint64, op int, payload []byte) []byte) DAVEOption {
	return func(x *DAVEServer) { x.tamper = f }
}

// NewDAVEServer returns a DAVEServer, for WithDAVE.
func NewDAVEServer(opts ...DAVEOption) *DAVEServer {
	x := &DAVEServer{timeout: 2 * time.Second, clock: pipeline.SystemClock{}, channels: map[string]*daveChannel{}}
	for _, o := range opts {
		o(x)
	}
	x.ctx, x.cancel = context.WithCancel(context.Background())
	return x
}

// WithDAVEServer installs a DAVEServer made with opts as the DAVE layer
// (WithRequireDAVE alone installs one with the defaults). Server.DAVE
// returns it.
func WithDAVEServer(opts ...DAVEOption) Option {
	return func(c *serverConfig) { c.hook = NewDAVEServer(opts...) }
}

// Close stops the transitions' timers and waits for them.
func (x *DAVEServer) Close() error {
	x.cancel()
	x.wg.Wait()
	return nil
}

// Stats returns the counters.
func (x *DAVEServer) Stats() DAVEStats {
	s := &x.stats
	return DAVEStats{KeyPackages: s.keyPackages.Load(), Commits: s.commits.Load(), Rejected: s.rejected.Load(), Held: s.held.Load(),
		Executed: s.executed.Load(), TimedOut: s.timedOut.Load(), Invalid: s.invalid.Load()}
}

// Epoch returns the epoch of the group of the channel of guild serverID
// (0: no group).
func (x *DAVEServer) Epoch(serverID string) uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	if ch := x.channels[serverID]; ch != nil {
		return ch.x.Epoch()
	}
	return 0
}

// Members returns the users in the group of the channel of guild
// serverID, by their DAVE ids (voice.Snowflake), in leaf order.
func (x *DAVEServer) Members(serverID string) []uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	if ch := x.channels[serverID]; ch != nil {
		return ch.x.Members()
	}
	return nil
}

// Join sends the session the external sender (op 25).
func (x *DAVEServer) Join(ss *Session) {
	x.mu.Lock()
	defer x.mu.Unlock()
	ch := x.channels[ss.ServerID]
	if ch == nil {
		es, err := dave.NewExternalSender(voice.Snowflake(ss.ServerID))
		if err != nil { // the system's randomness failed
			return
		}
		ch = &daveChannel{x: es, members: map[uint64]*Session{}, version: dave.ProtocolVersion, transitions: map[uint16]*daveTransition{}}
		x.channels[ss.ServerID] = ch
	}
	ch.members[voice.Snowflake(ss.UserID)] = ss
	ss.SendBinary(voice.OpDAVEMLSExternalSender, ch.x.Package())
	if ch.version == 0 {
		ss.Send(voice.NewMessage(voice.OpDAVEPrepareTransition, voice.PrepareTransition{TransitionID: 0, ProtocolVersion: 0}))
	}
}

// Leave removes the session's user from its transitions and the group:
// a Remove to the others, or the sole member's reset.
func (x *DAVEServer) Leave(ss *Session) {
	x.mu.Lock()
	defer x.mu.Unlock()
	u := voice.Snowflake(ss.UserID)
	ch := x.channels[ss.ServerID]
	if ch == nil || ch.members[u] != ss {
		return // replaced by a new session of the user
	}
	delete(ch.members, u)
	for _, t := range ch.transitions {
		delete(t.to, u)
		x.readyLocked(ch, t, u)
	}
	switch len(ch.members) {
	case 0:
		for _, t := range ch.transitions {
			t.cancel()
		}
		delete(x.channels, ss.ServerID)
	case 1:
		for _, t := range ch.transitions {
			t.cancel()
		}
		clear(ch.transitions)
		ch.x.Reset()
		ch.held = nil
		if ch.version == 0 {
			return
		}
		for _, sole := range ch.members {
			sole.Send(voice.NewMessage(voice.OpDAVEPrepareEpoch, voice.PrepareEpoch{ProtocolVersion: ch.version, Epoch: 1}))
			sole.Send(voice.NewMessage(voice.OpDAVEPrepareTransition, voice.PrepareTransition{TransitionID: 0, ProtocolVersion: ch.version}))
		}
	default:
		out, err := ch.x.RemoveUser(u)
		if err == nil {
			x.deliverLocked(ch, out)
		}
	}
}

// HandleMessage takes op 23 (ready for a transition) and op 31 (a commit
// or welcome the client could not process).
func (x *DAVEServer) HandleMessage(ss *Session, m voice.Message) error {
	var id voice.TransitionReady // op 31's payload has the same shape
	if err := m.Decode(&id); err != nil {
		return err
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	u := voice.Snowflake(ss.UserID)
	ch := x.channels[ss.ServerID]
	if ch == nil || ch.members[u] != ss {
		return nil
	}
	switch m.Op {
	case voice.OpDAVETransitionReady:
		if t := ch.transitions[id.TransitionID]; t != nil {
			x.readyLocked(ch, t, u)
		}
	case voice.OpDAVEMLSInvalidCommitWelcome:
		x.stats.invalid.Add(1)
		for _, t := range ch.transitions { // its new key package follows
			x.readyLocked(ch, t, u)
		}
	}
	return nil
}

// HandleBinary takes op 26 (a key package) and op 28 (a commit and its
// welcome).
func (x *DAVEServer) HandleBinary(ss *Session, op int, payload []byte) error {
	x.mu.Lock()
	defer x.mu.Unlock()
	u := voice.Snowflake(ss.UserID)
	ch := x.channels[ss.ServerID]
	if ch == nil || ch.members[u] != ss {
		return nil
	}
	switch op {
	case voice.OpDAVEMLSKeyPackage:
		out, err := ch.x.AddKeyPackage(u, payload)
		if err != nil {
			return &voice.CloseError{Code: voice.CloseDecodeError, Reason: err.Error()}
		}
		x.stats.keyPackages.Add(1)
		x.deliverLocked(ch, out)
	case voice.OpDAVEMLSCommitWelcome:
		if x.gate <= 1 {
			return x.commitLocked(ch, u, payload)
		}
		ch.held = append(ch.held, heldCommit{ss: ss, payload: bytes.Clone(payload)})
		x.stats.held.Add(1)
		if len(ch.held) < x.gate {
			return nil
		}
		held := ch.held
		ch.held = nil
		for _, c := range held {
			cu := voice.Snowflake(c.ss.UserID)
			if ch.members[cu] != c.ss {
				continue // left while held
			}
			if err := x.commitLocked(ch, cu, c.payload); err != nil && c.ss == ss {
				return err
			}
		}
	default:
		return &voice.CloseError{Code: voice.CloseUnknownOpcode, Reason: fmt.Sprintf("binary op %d is the server's", op)}
	}
	return nil
}

// commitLocked takes user u's commit: the first valid one of the epoch
// is delivered and its transition started; another is dropped, and one
// that does not decode closes the session.
func (x *DAVEServer) commitLocked(ch *daveChannel, u uint64, payload []byte) error {
	id := ch.nextID + 1
	if id == 0 {
		id = 1 // 0 is the transition executed at once
	}
	out, err := ch.x.Commit(u, payload, id)
	if err != nil {
		x.stats.rejected.Add(1)
		if errors.Is(err, dave.ErrCommitRejected) {
			return nil // another won the epoch: dropped, as Discord does
		}
		return &voice.CloseError{Code: voice.CloseDecodeError, Reason: err.Error()}
	}
	ch.nextID = id
	x.stats.commits.Add(1)
	x.deliverLocked(ch, out)
	t := &daveTransition{id: id, version: ch.version, to: map[uint64]bool{}, waiting: map[uint64]bool{}}
	for _, d := range out {
		t.to[d.UserID], t.waiting[d.UserID] = true, true
	}
	x.startLocked(ch, t)
	return nil
}

// Downgrade prepares a transition of the channel of guild serverID to
// protocol version 0 (transport encryption alone): op 21 to every
// member, op 22 once they are ready. It reports whether the channel has
// members.
func (x *DAVEServer) Downgrade(serverID string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	ch := x.channels[serverID]
	if ch == nil {
		return false
	}
	ch.nextID++
	if ch.nextID == 0 {
		ch.nextID = 1
	}
	t := &daveTransition{id: ch.nextID, version: 0, to: map[uint64]bool{}, waiting: map[uint64]bool{}}
	for u, ss := range ch.members {
		t.to[u], t.waiting[u] = true, true
		ss.Send(voice.NewMessage(voice.OpDAVEPrepareTransition, voice.PrepareTransition{TransitionID: t.id, ProtocolVersion: 0}))
	}
	x.startLocked(ch, t)
	return true
}

// Upgrade brings the channel of guild serverID back to DAVE (protocol
// version 1): the group is forgotten and every member sent op 24 epoch
// 1; their key packages make a new group, whose transition makes them
// encrypt. It reports whether the channel has members.
func (x *DAVEServer) Upgrade(serverID string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	ch := x.channels[serverID]
	if ch == nil {
		return false
	}
	ch.version = dave.ProtocolVersion
	ch.x.Reset()
	ch.held = nil
	for _, ss := range ch.members {
		ss.Send(voice.NewMessage(voice.OpDAVEPrepareEpoch, voice.PrepareEpoch{ProtocolVersion: ch.version, Epoch: 1}))
	}
	return true
}

// deliverLocked sends each delivery to its user's session.
func (x *DAVEServer) deliverLocked(ch *daveChannel, out []dave.Delivery) {
	for _, d := range out {
		if ss := ch.members[d.UserID]; ss != nil {
			payload := d.Payload
			if x.tamper != nil {
				payload = x.tamper(d.UserID, int(d.Opcode), payload)
			}
			ss.SendBinary(int(d.Opcode), payload)
		}
	}
}

// startLocked records t and starts its timeout.
func (x *DAVEServer) startLocked(ch *daveChannel, t *daveTransition) {
	ctx, cancel := context.WithCancel(x.ctx)
	t.cancel = cancel
	ch.transitions[t.id] = t
	deadline := x.clock.Now().Add(x.timeout)
	x.wg.Add(1)
	go func() {
		defer x.wg.Done()
		if x.clock.Wait(ctx, deadline) != nil {
			return
		}
		x.mu.Lock()
		defer x.mu.Unlock()
		if ch.transitions[t.id] == t {
			x.stats.timedOut.Add(1)
			x.executeLocked(ch, t)
		}
	}()
}

// readyLocked records that user u needs no more waiting for in t, and
// executes t when nobody is awaited.
func (x *DAVEServer) readyLocked(ch *daveChannel, t *daveTransition, u uint64) {
	delete(t.waiting, u)
	if len(t.waiting) == 0 && ch.transitions[t.id] == t {
		x.executeLocked(ch, t)
	}
}

// executeLocked sends op 22 to t's members.
func (x *DAVEServer) executeLocked(ch *daveChannel, t *daveTransition) {
	t.cancel()
	delete(ch.transitions, t.id)
	if t.version == 0 {
		ch.version = 0
	}
	x.stats.executed.Add(1)
	for u := range t.to {
		if ss := ch.members[u]; ss != nil {
			ss.Send(voice.NewMessage(voice.OpDAVEExecuteTransition, voice.ExecuteTransition{TransitionID: t.id}))
		}
	}
}
