package voice

import (
	"hash/fnv"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave"
)

// Passthrough windows of the receivers (discord.js's choices, DAVE.md
// section 4): after a transition that ends a time without encryption,
// frames not encrypted still pass for PassthroughWindow; while a
// downgrade to protocol version 0 is prepared and not yet executed, for
// DowngradeWindow.
const (
	PassthroughWindow = 10 * time.Second
	DowngradeWindow   = 120 * time.Second
)

// Snowflake returns the 64-bit number of a Discord ID given as a string,
// as DAVE names users and channels (the MLS credential, the group id):
// the decimal snowflake itself, or, for an ID that is not one (a test's
// "bot", "guild"), its 64-bit FNV-1a hash, so that a voicetest server
// and its clients agree on it.
func Snowflake(id string) uint64 {
	if n, err := strconv.ParseUint(id, 10, 64); err == nil && n != 0 {
		return n
	}
	h := fnv.New64a()
	h.Write([]byte(id))
	if n := h.Sum64(); n != 0 {
		return n
	}
	return 1
}

// DAVE is a Conn's own DAVE layer (on by default, WithDAVE): the E2EE,
// the FrameDecryptor and the sender's frame encryptor of a Conn, on a
// dave.Session. It follows the voice gateway as Discord's clients do:
//
//	op 4  dave_protocol_version   1: DAVE; 0: transport encryption alone
//	op 25 external sender         the group of one at epoch 0; op 26 sent
//	op 27 proposals               op 28 sent: the commit (and welcome)
//	op 29 announced commit        the new epoch's receive ratchets installed at
//	op 30 welcome                 once, the old ones kept KeyExpiry; op 23
//	                              sent (none for transition 0, executed at once)
//	op 22 execute transition      the sender switches to the new epoch's key
//	op 21 prepare transition      version 0: a downgrade; receivers let frames
//	                              not encrypted pass; op 23; on op 22 the
//	                              sender stops encrypting
//	op 24 prepare epoch 1         a new group (the sole member's reset, an
//	                              upgrade): the session reset, op 26 sent
//	ops 11, 13                    the users Adds and Welcomes may name
//
// A commit or welcome that cannot be processed (or proposals) is answered
// with op 31, a reset and a new key package: the gateway removes the
// member and adds it again. Until its first transition executes, a
// member of a DAVE session has no key: its frames are not sent (counted
// in DAVEStats.NoKey), never sent in the clear. The silence frame is sent
// and received as it is.
//
// Its E2EE methods are called by the Conn's control goroutine, Decrypt by
// its reader, Encrypt by Send's caller; the others may be called from any
// goroutine.
type DAVE struct {
	c       *Conn
	self    uint64
	channel uint64
	enc     *dave.Encryptor
	now     func() time.Time // the clock of the passthrough windows and the decryptors

	mu sync.Mutex // guards the fields below
	// version is the protocol version in force (op 4, an executed
	// downgrade, op 24); 0: transport encryption alone.
	version int
	// sess is the session's MLS state; nil while the session is not
	// DAVE's (described with version 0).
	sess *dave.Session
	// sender is set once op 25 came in this session.
	sender bool
	// users are the users in the channel (ops 11 and 13), since the
	// session's Identify.
	users map[uint64]bool
	// decs are the receivers' decryptors, by user.
	decs map[uint64]*dave.Decryptor
	// passAlways and passUntil are what the decryptors allow of frames
	// not encrypted: always, or until then (zero: never); new
	// decryptors start with them.
	passAlways bool
	passUntil  time.Time
	// pending are the transitions prepared and not yet executed.
	pending map[uint16]transition
	// sendEpoch is the epoch whose key the sender uses (0: none).
	sendEpoch uint64

	decMu   sync.Mutex // guards scratch, Decrypt's output buffer
	scratch []byte

	stats daveCounters
}

// transition is a prepared transition: the protocol version it goes to
// and, for a new epoch, the sender's ratchet in it.
type transition struct {
	version int
	epoch   uint64
	self    *dave.KeyRatchet // nil: no new key (a downgrade, the sole member's reset)
}

type daveCounters struct {
	keyPackages, commits, prepared, executed, invalid, decrypted, refused atomic.Int64
}

// DAVEStats are a DAVE layer's counters and state.
type DAVEStats struct {
	ProtocolVersion int    // in force: 0 is transport encryption alone
	Epoch           uint64 // the group's epoch; 0 without a group
	SendEpoch       uint64 // the epoch whose key encrypts what is sent; 0: none (after a reset, the old group's until the new group's transition executes: see Prepared and Executed)
	Members         int    // the group's members, the Conn's user included
	KeyPackages     int64  // key packages sent (op 26)
	Commits         int64  // commits sent (op 28)
	Prepared        int64  // transitions prepared (commits and welcomes processed, op 21)
	Executed        int64  // transitions executed (op 22, or at once for transition 0)
	Invalid         int64  // commits, welcomes or proposals refused: op 31 sent
	Encrypted       uint64 // frames sent encrypted
	Passthrough     uint64 // frames sent as they are, DAVE being off (version 0)
	Silence         uint64 // silence frames sent as they are
	NoKey           uint64 // frames not sent: no key yet
	Decrypted       int64  // frames received and decrypted (or let through)
	Refused         int64  // frames received and refused (a wrong key, not encrypted, a replay)
}

func newDAVE(c *Conn, self, channel uint64, now func() time.Time) *DAVE {
	if now == nil {
		now = time.Now
	}
	return &DAVE{c: c, self: self, channel: channel, now: now, enc: dave.NewEncryptor(nil),
		users: map[uint64]bool{}, decs: map[uint64]*dave.Decryptor{}, pending: map[uint16]transition{}}
}

// Stats returns the layer's counters and state.
func (d *DAVE) Stats() DAVEStats {
	es := d.enc.Stats()
	s := DAVEStats{
		KeyPackages: d.stats.keyPackages.Load(), Commits: d.stats.commits.Load(),
		Prepared: d.stats.prepared.Load(), Executed: d.stats.executed.Load(), Invalid: d.stats.invalid.Load(),
		Encrypted: es.Encrypted, Passthrough: es.Passthrough, Silence: es.Silence, NoKey: es.Failed,
		Decrypted: d.stats.decrypted.Load(), Refused: d.stats.refused.Load(),
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	s.ProtocolVersion, s.SendEpoch = d.version, d.sendEpoch
	if d.sess != nil {
		s.Epoch, s.Members = d.sess.Epoch(), len(d.sess.UserIDs())
	}
	return s
}

// PrivacyCode returns the group's voice privacy code (30 digits in groups
// of 5, the same for every member of the epoch), or "" without a group.
func (d *DAVE) PrivacyCode() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sess == nil {
		return ""
	}
	return d.sess.PrivacyCode()
}

// MaxProtocolVersion returns dave.ProtocolVersion.
func (d *DAVE) MaxProtocolVersion() int { return dave.ProtocolVersion }

// begin forgets the last session's users and group: a new Identify is
// under way (the first, one after 4006 or 4009, a region move). Its
// Clients Connect may come before its Session Description.
func (d *DAVE) begin() {
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.users)
	d.sess, d.sender = nil, false
}

// SessionDescribed starts the session's DAVE state: with version 1 a new
// dave.Session (no key until its first transition), with 0 passthrough
// both ways.
func (d *DAVE) SessionDescribed(version int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.version, d.sendEpoch, d.sender = version, 0, false
	clear(d.pending)
	clear(d.decs)
	d.sess = nil
	d.enc.SetKeyRatchet(nil)
	if version < 1 {
		d.enc.SetPassthroughMode(true)
		d.passAlways, d.passUntil = true, time.Time{}
		return
	}
	d.enc.SetPassthroughMode(false)
	d.passAlways, d.passUntil = false, time.Time{}
	d.newSessionLocked()
}

// newSessionLocked makes the session's dave.Session.
func (d *DAVE) newSessionLocked() {
	s, err := dave.NewSession(d.self, d.channel)
	if err != nil { // the system's randomness failed
		d.stats.invalid.Add(1)
		return
	}
	for u := range d.users {
		s.RecognizeUsers(u)
	}
	d.sess = s
}

// HandleMessage takes ops 11, 13, 21, 22 and 24.
func (d *DAVE) HandleMessage(m Message) {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch m.Op {
	case OpClientsConnect:
		var cc ClientsConnect
		if m.Decode(&cc) != nil {
			return
		}
		for _, id := range cc.UserIDs {
			u := Snowflake(id)
			d.users[u] = true
			if d.sess != nil {
				d.sess.RecognizeUsers(u)
			}
		}
	case OpClientDisconnect:
		var cd ClientDisconnect
		if m.Decode(&cd) != nil {
			return
		}
		u := Snowflake(cd.UserID)
		delete(d.users, u)
		delete(d.decs, u)
		if d.sess != nil {
			d.sess.ForgetUser(u)
		}
	case OpDAVEPrepareTransition:
		var p PrepareTransition
		if m.Decode(&p) != nil || d.sess == nil {
			return
		}
		t := transition{version: p.ProtocolVersion}
		if p.ProtocolVersion == 0 { // a downgrade: frames not encrypted may come
			d.allowPassthroughLocked(DowngradeWindow)
		}
		d.prepareLocked(p.TransitionID, t)
	case OpDAVEExecuteTransition:
		var e ExecuteTransition
		if m.Decode(&e) != nil {
			return
		}
		if t, ok := d.pending[e.TransitionID]; ok {
			delete(d.pending, e.TransitionID)
			d.executeLocked(t)
		}
	case OpDAVEPrepareEpoch:
		var p PrepareEpoch
		if m.Decode(&p) != nil || p.Epoch != 1 || p.ProtocolVersion < 1 {
			return
		}
		// A new group: the sole member's reset, or an upgrade.
		d.version = p.ProtocolVersion
		if d.sess == nil {
			d.newSessionLocked()
			return // its key package goes with op 25
		}
		d.resetLocked()
	}
}

// HandleBinary takes ops 25, 27, 29 and 30.
func (d *DAVE) HandleBinary(op int, payload []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.sess == nil {
		return
	}
	switch op {
	case OpDAVEMLSExternalSender:
		if err := d.sess.SetExternalSender(payload); err != nil {
			d.stats.invalid.Add(1)
			return
		}
		d.sender = true
		if d.version >= 1 {
			d.sendKeyPackageLocked()
		}
	case OpDAVEMLSProposals:
		out, err := d.sess.ProcessProposals(payload)
		if err != nil {
			d.invalidLocked(0)
			return
		}
		if out != nil {
			d.c.queueControl(true, AppendClientBinary(nil, OpDAVEMLSCommitWelcome, out))
			d.stats.commits.Add(1)
		}
	case OpDAVEMLSAnnounceCommitTransition, OpDAVEMLSWelcome:
		process := d.sess.ProcessCommit
		if op == OpDAVEMLSWelcome {
			process = d.sess.ProcessWelcome
		}
		id, err := process(payload)
		if err != nil {
			d.invalidLocked(id)
			return
		}
		d.installLocked()
		self, _ := d.sess.KeyRatchet(d.self)
		d.prepareLocked(id, transition{version: d.version, epoch: d.sess.Epoch(), self: self})
	}
}

// installLocked gives each member's decryptor its ratchet of the new
// epoch at once, the old ones kept KeyExpiry; those who left keep theirs
// as long.
func (d *DAVE) installLocked() {
	members := d.sess.UserIDs()
	for _, u := range members {
		if u == d.self {
			continue
		}
		if r, err := d.sess.KeyRatchet(u); err == nil {
			d.decLocked(u).TransitionToKeyRatchet(r, dave.KeyExpiry)
		}
	}
	for u, dec := range d.decs {
		if !slices.Contains(members, u) {
			dec.TransitionToKeyRatchet(nil, dave.KeyExpiry)
		}
	}
}

// prepareLocked records transition id, answers it with op 23, or, for
// transition 0, executes it at once.
func (d *DAVE) prepareLocked(id uint16, t transition) {
	d.stats.prepared.Add(1)
	if id == 0 {
		d.executeLocked(t)
		return
	}
	d.pending[id] = t
	d.c.queueControl(false, NewMessage(OpDAVETransitionReady, TransitionReady{TransitionID: id}).Marshal())
}

// executeLocked makes t the sender's state: no encryption for version
// 0; the new epoch's key otherwise, and the receivers let frames not
// encrypted pass for PassthroughWindow more.
func (d *DAVE) executeLocked(t transition) {
	d.stats.executed.Add(1)
	switch {
	case t.version == 0:
		d.version, d.sendEpoch = 0, 0
		d.enc.SetPassthroughMode(true)
		d.passAlways = true
		for _, dec := range d.decs {
			dec.TransitionToPassthroughMode(true, 0)
		}
	case t.self != nil:
		d.enc.SetKeyRatchet(t.self)
		d.enc.SetPassthroughMode(false)
		d.sendEpoch = t.epoch
		if d.passAlways || d.now().Before(d.passUntil) {
			d.allowPassthroughLocked(PassthroughWindow)
		}
	}
}

// allowPassthroughLocked lets frames not encrypted pass for window from
// now, and no longer.
func (d *DAVE) allowPassthroughLocked(window time.Duration) {
	until := d.now().Add(window)
	d.passAlways, d.passUntil = false, until
	for _, dec := range d.decs {
		dec.TransitionToPassthroughMode(true, 0)
		dec.TransitionToPassthroughMode(false, until.Sub(d.now()))
	}
}

// decLocked returns user u's decryptor, made with the passthrough now
// allowed.
func (d *DAVE) decLocked(u uint64) *dave.Decryptor {
	dec := d.decs[u]
	if dec == nil {
		dec = dave.NewDecryptor(dave.WithDecryptorClock(d.now))
		if d.passAlways {
			dec.TransitionToPassthroughMode(true, 0)
		} else if left := d.passUntil.Sub(d.now()); left > 0 {
			dec.TransitionToPassthroughMode(true, 0)
			dec.TransitionToPassthroughMode(false, left)
		}
		d.decs[u] = dec
	}
	return dec
}

// invalidLocked answers a commit, welcome or proposals it could not
// process: op 31, a reset and a new key package.
func (d *DAVE) invalidLocked(id uint16) {
	d.stats.invalid.Add(1)
	d.c.queueControl(false, NewMessage(OpDAVEMLSInvalidCommitWelcome, InvalidCommitWelcome{TransitionID: id}).Marshal())
	d.resetLocked()
}

// resetLocked forgets the group and sends a new key package; the sender
// keeps its key until the next transition executes.
func (d *DAVE) resetLocked() {
	if err := d.sess.Reset(); err != nil {
		return
	}
	if d.sender {
		d.sendKeyPackageLocked()
	}
}

func (d *DAVE) sendKeyPackageLocked() {
	kp, err := d.sess.KeyPackage()
	if err != nil {
		return
	}
	d.c.queueControl(true, AppendClientBinary(nil, OpDAVEMLSKeyPackage, kp))
	d.stats.keyPackages.Add(1)
}

// Decrypt is the Conn's FrameDecryptor: the frame of user userID,
// decrypted under that user's ratchets (or let through: the silence
// frame, a frame not encrypted while passthrough is allowed).
func (d *DAVE) Decrypt(userID string, frame []byte) ([]byte, error) {
	d.mu.Lock()
	dec := d.decLocked(Snowflake(userID))
	d.mu.Unlock()
	d.decMu.Lock()
	defer d.decMu.Unlock()
	out, err := dec.AppendDecrypt(d.scratch[:0], frame)
	if err != nil {
		d.stats.refused.Add(1)
		return nil, err
	}
	d.scratch = out
	d.stats.decrypted.Add(1)
	return out, nil
}

// MaxEncryptedFrameSize is the sender's sink.FrameEncryptor's.
func (d *DAVE) MaxEncryptedFrameSize(frameSize int) int {
	return d.enc.MaxEncryptedFrameSize(frameSize)
}

// Encrypt is the sender's sink.FrameEncryptor's: the frame encrypted
// under the sender's key, or as it is (silence, version 0); without a
// key it fails (dave.ErrNoKeyRatchet), and the frame is not sent.
func (d *DAVE) Encrypt(ssrc uint32, frame, dst []byte) (int, error) {
	return d.enc.Encrypt(ssrc, frame, dst)
}

// PrepareTransition (op 21) announces a transition to a protocol
// version (0: a downgrade to transport encryption alone).
type PrepareTransition struct {
	TransitionID    uint16 `json:"transition_id"`
	ProtocolVersion int    `json:"protocol_version"`
}

// ExecuteTransition (op 22) executes a transition.
type ExecuteTransition struct {
	TransitionID uint16 `json:"transition_id"`
}

// TransitionReady (op 23) says that the client is ready for a transition.
type TransitionReady struct {
	TransitionID uint16 `json:"transition_id"`
}

// PrepareEpoch (op 24) announces a new MLS group (epoch 1) of a protocol
// version.
type PrepareEpoch struct {
	ProtocolVersion int    `json:"protocol_version"`
	Epoch           uint64 `json:"epoch"`
}

// InvalidCommitWelcome (op 31) says that the client could not process a
// commit or welcome of a transition.
type InvalidCommitWelcome struct {
	TransitionID uint16 `json:"transition_id"`
}
