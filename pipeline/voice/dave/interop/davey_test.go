package interop_test

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/nodetest"
	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave"
	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// peer is the node process running peer.js.
type peer struct {
	t    *testing.T
	proc *nodetest.Process
}

// startPeer starts peer.js; the test's cleanup ends it.
func startPeer(t *testing.T) *peer {
	t.Helper()
	nodetest.Need(t, nodeErr)
	p := &peer{t: t, proc: nodetest.Start(t, "peer.js")}
	var v struct{ Version string }
	require.NoError(t, p.call(map[string]any{"cmd": "version"}, &v))
	require.Equal(t, daveyVersion, v.Version)
	return p
}

// call sends a request and decodes the answer into v (if not nil); an
// answer with an error is returned as one.
func (p *peer) call(req map[string]any, v any) error {
	p.t.Helper()
	p.proc.Send(req)
	line := p.proc.Next(time.Minute)
	var e struct{ Error string }
	require.NoError(p.t, json.Unmarshal(line, &e))
	if e.Error != "" {
		return fmt.Errorf("davey: %s: %s", req["cmd"], e.Error)
	}
	if v != nil {
		require.NoError(p.t, json.Unmarshal(line, v))
	}
	return nil
}

// state is what a member shows of its group.
type state struct {
	epoch         uint64
	authenticator []byte
	privacyCode   string
	userIDs       []uint64
}

// member is a party of a test group: a Go session or a davey session.
type member interface {
	id() uint64
	kind() string
	setExternalSender(op25 []byte) error
	keyPackage() ([]byte, error)
	proposals(op27 []byte, recognized []uint64) ([]byte, error)
	commit(op29 []byte) error
	welcome(op30 []byte) error
	state() state
	// encrypt returns a DAVE Opus frame of pt sent by the member.
	encrypt(pt []byte) []byte
	// checkFrame checks that frame, sent by user from, carries pt.
	checkFrame(from uint64, frame, pt []byte)
	reset() error
	// recognize adds users to the recognised set (op 11).
	recognize(ids []uint64)
}

// goMember is a dave.Session with the media part of package dave: an
// Encryptor on its own sender secret's key ratchet and a Decryptor per
// sender, each given the new epoch's ratchet when the epoch changes.
type goMember struct {
	t   *testing.T
	s   *dave.Session
	enc *dave.Encryptor
	// encEpoch and decEpoch are the epochs of the ratchets given.
	encEpoch uint64
	dec      map[uint64]*dave.Decryptor
	decEpoch map[uint64]uint64
}

// ratchet returns the key ratchet of user's frames in the current epoch.
func (m *goMember) ratchet(user uint64) *dave.KeyRatchet {
	r, err := m.s.KeyRatchet(user)
	require.NoError(m.t, err)
	return r
}

func (m *goMember) id() uint64                          { return m.s.UserID() }
func (m *goMember) kind() string                        { return "Go" }
func (m *goMember) setExternalSender(op25 []byte) error { return m.s.SetExternalSender(op25) }
func (m *goMember) keyPackage() ([]byte, error)         { return m.s.KeyPackage() }
func (m *goMember) reset() error                        { return m.s.Reset() }
func (m *goMember) recognize(ids []uint64)              { m.s.RecognizeUsers(ids...) }

func (m *goMember) proposals(op27 []byte, _ []uint64) ([]byte, error) {
	return m.s.ProcessProposals(op27)
}

func (m *goMember) commit(op29 []byte) error {
	_, err := m.s.ProcessCommit(op29)
	return err
}

func (m *goMember) welcome(op30 []byte) error {
	_, err := m.s.ProcessWelcome(op30)
	return err
}

func (m *goMember) state() state {
	return state{m.s.Epoch(), m.s.EpochAuthenticator(), m.s.PrivacyCode(), m.s.UserIDs()}
}

func (m *goMember) encrypt(pt []byte) []byte {
	if e := m.s.Epoch(); m.enc == nil || m.encEpoch != e {
		m.enc, m.encEpoch = dave.NewEncryptor(m.ratchet(m.id())), e
	}
	frame, err := m.enc.AppendEncrypt(nil, pt)
	require.NoError(m.t, err)
	return frame
}

func (m *goMember) checkFrame(from uint64, frame, pt []byte) {
	e := m.s.Epoch()
	d := m.dec[from]
	if d == nil {
		d = dave.NewDecryptor()
		m.dec[from] = d
	}
	if m.decEpoch[from] != e {
		d.TransitionToKeyRatchet(m.ratchet(from), dave.KeyExpiry)
		m.decEpoch[from] = e
	}
	got, err := d.AppendDecrypt(nil, frame)
	if assert.NoError(m.t, err, "user %d's frame at Go user %d, epoch %d", from, m.id(), e) {
		assert.Equal(m.t, hex.EncodeToString(pt), hex.EncodeToString(got), "user %d's frame at Go user %d", from, m.id())
	}
	// The same frame sealed by the reference of DAVE.md section 3.
	secret, err := m.s.SenderSecret(from)
	require.NoError(m.t, err)
	nonce := frameNonce(m.t, frame)
	assert.Equal(m.t, hex.EncodeToString(sealFrame(m.t, secret, nonce, pt)), hex.EncodeToString(frame),
		"user %d's frame (nonce %d) at Go user %d: the sender secrets differ", from, nonce, m.id())
}

// daveyMember is a DAVESession of davey in peer.js.
type daveyMember struct {
	t    *testing.T
	p    *peer
	user uint64
}

func (m *daveyMember) id() uint64   { return m.user }
func (m *daveyMember) kind() string { return "davey" }
func (m *daveyMember) uid() string  { return strconv.FormatUint(m.user, 10) }

// recognize does nothing: davey takes the recognised set with each
// proposals payload.
func (m *daveyMember) recognize([]uint64) {}

func (m *daveyMember) setExternalSender(op25 []byte) error {
	return m.p.call(map[string]any{"cmd": "setExternalSender", "user": m.uid(), "data": hex.EncodeToString(op25)}, nil)
}

func (m *daveyMember) keyPackage() ([]byte, error) {
	var v struct{ Data string }
	if err := m.p.call(map[string]any{"cmd": "keyPackage", "user": m.uid()}, &v); err != nil {
		return nil, err
	}
	return hex.DecodeString(v.Data)
}

func (m *daveyMember) proposals(op27 []byte, recognized []uint64) ([]byte, error) {
	ids := []string{}
	for _, r := range recognized {
		ids = append(ids, strconv.FormatUint(r, 10))
	}
	var v struct{ Commit, Welcome *string }
	err := m.p.call(map[string]any{"cmd": "processProposals", "user": m.uid(), "op": op27[0],
		"data": hex.EncodeToString(op27[1:]), "recognized": ids}, &v)
	if err != nil || v.Commit == nil {
		return nil, err
	}
	out, err := hex.DecodeString(*v.Commit)
	require.NoError(m.t, err)
	if v.Welcome != nil {
		w, err := hex.DecodeString(*v.Welcome)
		require.NoError(m.t, err)
		out = append(out, w...)
	}
	return out, nil
}

func (m *daveyMember) commit(op29 []byte) error {
	return m.p.call(map[string]any{"cmd": "processCommit", "user": m.uid(), "data": hex.EncodeToString(op29[2:])}, nil)
}

func (m *daveyMember) welcome(op30 []byte) error {
	return m.p.call(map[string]any{"cmd": "processWelcome", "user": m.uid(), "data": hex.EncodeToString(op30[2:])}, nil)
}

func (m *daveyMember) reset() error {
	return m.p.call(map[string]any{"cmd": "reset", "user": m.uid()}, nil)
}

func (m *daveyMember) state() state {
	var v struct {
		Epoch         *string
		Authenticator *string
		PrivacyCode   string
		UserIDs       []string `json:"userIds"`
	}
	require.NoError(m.t, m.p.call(map[string]any{"cmd": "state", "user": m.uid()}, &v))
	var s state
	if v.Epoch != nil {
		e, err := strconv.ParseUint(*v.Epoch, 10, 64)
		require.NoError(m.t, err)
		s.epoch = e
	}
	if v.Authenticator != nil {
		a, err := hex.DecodeString(*v.Authenticator)
		require.NoError(m.t, err)
		s.authenticator = a
	}
	s.privacyCode = v.PrivacyCode
	for _, id := range v.UserIDs {
		u, err := strconv.ParseUint(id, 10, 64)
		require.NoError(m.t, err)
		s.userIDs = append(s.userIDs, u)
	}
	slices.Sort(s.userIDs)
	return s
}

func (m *daveyMember) encrypt(pt []byte) []byte {
	var v struct{ Data string }
	require.NoError(m.t, m.p.call(map[string]any{"cmd": "encrypt", "user": m.uid(), "data": hex.EncodeToString(pt)}, &v))
	b, err := hex.DecodeString(v.Data)
	require.NoError(m.t, err)
	return b
}

func (m *daveyMember) checkFrame(from uint64, frame, pt []byte) {
	var v struct{ Data string }
	err := m.p.call(map[string]any{"cmd": "decrypt", "user": m.uid(), "from": strconv.FormatUint(from, 10), "data": hex.EncodeToString(frame)}, &v)
	if !assert.NoError(m.t, err, "user %d's frame at davey user %d", from, m.id()) {
		return
	}
	assert.Equal(m.t, hex.EncodeToString(pt), v.Data, "user %d's frame at davey user %d", from, m.id())
}

// sealFrame makes the DAVE Opus frame of pt under the key ratchet of
// base secret at nonce (DAVE.md section 3): the key of generation
// nonce>>24, AES-128-GCM with the IV 8 zero bytes and the nonce little
// endian, the tag truncated to 8 bytes, the nonce as ULEB128, the
// supplemental size and the FA FA marker.
func sealFrame(t *testing.T, base []byte, nonce uint32, pt []byte) []byte {
	t.Helper()
	cs := mls.P256AES128GCMSHA256P256
	secret := base
	for g := uint32(0); ; g++ {
		key, err := cs.ExpandWithLabel(secret, "key", binary.BigEndian.AppendUint32(nil, g), 16)
		require.NoError(t, err)
		if g == nonce>>24 {
			block, err := aes.NewCipher(key)
			require.NoError(t, err)
			gcm, err := cipher.NewGCM(block)
			require.NoError(t, err)
			iv := make([]byte, 12)
			binary.LittleEndian.PutUint32(iv[8:], nonce)
			frame := gcm.Seal(nil, iv, pt, nil)[:len(pt)+8]
			n := len(frame)
			for v := nonce; ; {
				b := byte(v & 0x7f)
				if v >>= 7; v != 0 {
					frame = append(frame, b|0x80)
					continue
				}
				frame = append(frame, b)
				break
			}
			return append(frame, byte(8+len(frame)-n+3), 0xfa, 0xfa)
		}
		secret, err = cs.ExpandWithLabel(secret, "secret", binary.BigEndian.AppendUint32(nil, g), 32)
		require.NoError(t, err)
	}
}

// frameNonce reads the nonce of a DAVE Opus frame.
func frameNonce(t *testing.T, frame []byte) uint32 {
	t.Helper()
	n := len(frame)
	require.GreaterOrEqual(t, n, 11)
	require.Equal(t, []byte{0xfa, 0xfa}, frame[n-2:], "frame marker")
	supp := int(frame[n-3])
	require.GreaterOrEqual(t, n, supp)
	var nonce uint32
	for i, b := range frame[n-supp+8 : n-3] {
		nonce |= uint32(b&0x7f) << (7 * i)
	}
	return nonce
}

// group routes the Go ExternalSender's payloads among members, as the
// voice gateway does.
type group struct {
	t       *testing.T
	channel uint64
	x       *dave.ExternalSender
	members map[uint64]member
	// commits holds each member's last op 28 payload of the epoch, and
	// order the order they were made in.
	commits map[uint64][]byte
	order   []uint64
	tid     uint16
	// frames counts the frames checked.
	frames int
}

func newGroup(t *testing.T, channel uint64) *group {
	x, err := dave.NewExternalSender(channel)
	require.NoError(t, err)
	return &group{t: t, channel: channel, x: x, members: map[uint64]member{}, commits: map[uint64][]byte{}}
}

func (g *group) goMember(id uint64) member {
	s, err := dave.NewSession(id, g.channel)
	require.NoError(g.t, err)
	return &goMember{t: g.t, s: s, dec: map[uint64]*dave.Decryptor{}, decEpoch: map[uint64]uint64{}}
}

func (g *group) daveyMember(p *peer, id uint64) member {
	require.NoError(g.t, p.call(map[string]any{"cmd": "new", "user": strconv.FormatUint(id, 10), "channel": strconv.FormatUint(g.channel, 10)}, nil))
	return &daveyMember{t: g.t, p: p, user: id}
}

// recognized returns the users connected.
func (g *group) recognized() []uint64 {
	var ids []uint64
	for id := range g.members {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// connect brings m into the channel: op 25, then its key package.
func (g *group) connect(m member) {
	g.t.Helper()
	g.members[m.id()] = m
	for _, o := range g.members {
		o.recognize(g.recognized()) // op 11
	}
	require.NoError(g.t, m.setExternalSender(g.x.Package()))
	g.sendKeyPackage(m)
}

func (g *group) sendKeyPackage(m member) {
	g.t.Helper()
	kp, err := m.keyPackage()
	require.NoError(g.t, err)
	ds, err := g.x.AddKeyPackage(m.id(), kp)
	require.NoError(g.t, err, "%s user %d's key package", m.kind(), m.id())
	g.deliver(ds)
}

// disconnect drops a member and proposes its removal.
func (g *group) disconnect(id uint64) {
	g.t.Helper()
	delete(g.members, id)
	delete(g.commits, id)
	ds, err := g.x.RemoveUser(id)
	require.NoError(g.t, err)
	g.deliver(ds)
}

func (g *group) deliver(ds []dave.Delivery) {
	g.t.Helper()
	for _, d := range ds {
		m := g.members[d.UserID]
		if m == nil {
			continue
		}
		switch d.Opcode {
		case dave.OpProposals:
			out, err := m.proposals(d.Payload, g.recognized())
			require.NoError(g.t, err, "%s user %d: proposals", m.kind(), m.id())
			if out != nil {
				if _, ok := g.commits[m.id()]; !ok {
					g.order = append(g.order, m.id())
				}
				g.commits[m.id()] = out
			}
		case dave.OpAnnounceCommit:
			require.NoError(g.t, m.commit(d.Payload), "%s user %d: commit of epoch %d", m.kind(), m.id(), g.x.Epoch()-1)
		case dave.OpWelcome:
			require.NoError(g.t, m.welcome(d.Payload), "%s user %d: welcome to epoch %d", m.kind(), m.id(), g.x.Epoch())
		}
	}
}

// settle hands the members' commits to the gateway, winner's first: it
// must win; every other commit made for the epoch is then dropped as
// late, and its author recovers by the announced commit or the Welcome.
func (g *group) settle(winner uint64) {
	g.t.Helper()
	c, ok := g.commits[winner]
	require.True(g.t, ok, "user %d made no commit; commits from %v", winner, g.order)
	g.tid++
	ds, err := g.x.Commit(winner, c, g.tid)
	require.NoError(g.t, err, "%s user %d's commit", g.members[winner].kind(), winner)
	for _, id := range g.order {
		if id != winner && g.members[id] != nil {
			_, err := g.x.Commit(id, g.commits[id], g.tid+1)
			require.ErrorIs(g.t, err, dave.ErrCommitRejected, "user %d's late commit", id)
		}
	}
	g.commits, g.order = map[uint64][]byte{}, nil
	g.deliver(ds)
}

// agree checks that every member is at the gateway's epoch with the same
// members, epoch authenticator and privacy code, and that each member's
// frame is read by every other with the same sender key.
func (g *group) agree(step string) {
	g.t.Helper()
	want := g.x.Members()
	slices.Sort(want)
	var ref state
	var refID uint64
	for _, id := range g.recognized() {
		m := g.members[id]
		s := m.state()
		assert.Equal(g.t, g.x.Epoch(), s.epoch, "%s: %s user %d's epoch", step, m.kind(), id)
		assert.Equal(g.t, want, s.userIDs, "%s: %s user %d's members", step, m.kind(), id)
		require.Len(g.t, s.authenticator, 32, "%s: %s user %d", step, m.kind(), id)
		if ref.authenticator == nil {
			ref, refID = s, id
			continue
		}
		assert.Equal(g.t, hex.EncodeToString(ref.authenticator), hex.EncodeToString(s.authenticator),
			"%s: epoch authenticators of %s user %d and %s user %d", step, g.members[refID].kind(), refID, m.kind(), id)
		assert.Equal(g.t, ref.privacyCode, s.privacyCode, "%s: privacy codes of users %d and %d", step, refID, id)
	}
	code, err := dave.DisplayableCode(ref.authenticator, 30, 5)
	require.NoError(g.t, err)
	assert.Equal(g.t, code, ref.privacyCode, "%s: privacy code", step)
	for _, from := range g.recognized() {
		pt := []byte(fmt.Sprintf("\xfc opus from %d at epoch %d", from, g.x.Epoch()))
		frame := g.members[from].encrypt(pt)
		for _, to := range g.recognized() {
			if to != from {
				g.members[to].checkFrame(from, frame, pt)
				g.frames++
			}
		}
	}
	g.t.Logf("%s: epoch %d, members %v, code %s", step, g.x.Epoch(), want, ref.privacyCode)
}

// TestDaveyTwoMembers is DAVE.md section 5's "two members": davey A and
// Go B create the group with davey's commit (B joins by its Welcome),
// and the reverse, Go's commit with davey joining; in both, the two agree
// on the authenticator and read each other's frames.
func TestDaveyTwoMembers(t *testing.T) {
	p := startPeer(t)
	for _, daveyCommits := range []bool{true, false} {
		name := map[bool]string{true: "davey commits", false: "Go commits"}[daveyCommits]
		t.Run(name, func(t *testing.T) {
			g := newGroup(t, 927310423890473011)
			g.t = t
			a := g.daveyMember(p, 158049329150427136+uint64(len(name)))
			b := g.goMember(158533742254751744)
			g.connect(a)
			g.connect(b)
			if daveyCommits {
				g.settle(a.id())
			} else {
				g.settle(b.id())
			}
			g.agree(name)
		})
	}
}

// TestDaveyGroup runs two davey and two Go members through creation,
// joins, leaves and commit races, the winner of each epoch chosen so that
// both sides commit and process every kind of commit: Add-only commits
// without a path (to existing members and to joiners by Welcome) and
// commits with a Remove, whose path the other side decrypts, in trees
// with blank leaves and unmerged leaves. After each epoch every member
// agrees with every other and reads every other's frames.
func TestDaveyGroup(t *testing.T) {
	p := startPeer(t)
	g := newGroup(t, 1234567890123456789)
	d1, g1 := g.daveyMember(p, 2001), g.goMember(2002)
	d2, g2 := g.daveyMember(p, 2003), g.goMember(2004)

	g.connect(d1)
	g.connect(g1)
	g.settle(d1.id())
	g.agree("creation, davey commits")

	g.connect(d2)
	g.settle(g1.id()) // race: davey 2001 loses to Go
	g.agree("davey joins by Go's welcome")

	g.connect(g2)
	g.settle(d2.id()) // race: Go 2002 and davey 2001 lose
	g.agree("Go joins by davey's welcome")

	g.disconnect(d1.id())
	g.settle(g1.id())
	g.agree("Go removes davey: davey decrypts Go's path")

	g.disconnect(g1.id())
	g.settle(d2.id())
	g.agree("davey removes Go: Go decrypts davey's path")

	d3, g3 := g.daveyMember(p, 2005), g.goMember(2006)
	g.connect(d3)
	g.settle(g2.id())
	g.agree("davey joins a tree with blank leaves")
	g.connect(g3)
	g.settle(d3.id())
	g.agree("Go joins by the welcome of davey, itself welcomed")

	g.disconnect(d2.id())
	g.settle(g3.id())
	g.agree("Go removes with unmerged leaves in the tree")
	g.disconnect(g2.id())
	g.settle(d3.id())
	g.agree("davey removes")
	t.Logf("%d frames checked", g.frames)
}

// TestDaveyRecovery has a Go member reset after a commit it could not
// process (op 31), and a davey member reset likewise: the gateway removes
// and re-adds each in one commit, and the group agrees again.
func TestDaveyRecovery(t *testing.T) {
	p := startPeer(t)
	g := newGroup(t, 55)
	d, gm, d2 := g.daveyMember(p, 3001), g.goMember(3002), g.daveyMember(p, 3003)
	g.connect(d)
	g.connect(gm)
	g.connect(d2)
	g.settle(d.id())
	g.agree("creation")

	for _, who := range []member{gm, d2} {
		require.NoError(t, who.reset())
		g.sendKeyPackage(who)
		winner := d.id()
		g.settle(winner)
		g.agree(fmt.Sprintf("%s user %d re-added", who.kind(), who.id()))
	}
}
