package dave

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// ProtocolVersion is the DAVE protocol version this package implements.
const ProtocolVersion = 1

// Suite is the MLS cipher suite of DAVE's protocol version 1.
const suite = mls.P256AES128GCMSHA256P256

// senderSecretLabel is the exporter label of the senders' base secrets.
const senderSecretLabel = "Discord Secure Frames v0"

// Proposal operations of op 27.
const (
	opAppend = 0
	opRevoke = 1
)

// Session is one DAVE participant's MLS state, driven by the voice
// gateway's binary opcodes: it takes the payloads of ops 25 (external
// sender), 27 (proposals), 29 (announced commit) and 30 (welcome) and
// makes those of ops 26 (key package) and 28 (commit and welcome). The
// caller does the framing (the sequence number and opcode bytes) and the
// JSON opcodes; it calls RecognizeUsers and ForgetUser for ops 11 and 13,
// and Reset on op 24 with epoch 1 and after sending op 31.
//
// A session is first without an external sender, then pending (a group
// of its own at epoch 0, waiting to be added or to have its commit
// chosen), then established (a member of the group of the channel, at
// epoch 1 or later). SenderSecret, EpochAuthenticator and PrivacyCode
// need an established group.
//
// A Session is safe for concurrent use: the gateway's goroutine drives it
// while the media path asks for sender secrets.
type Session struct {
	userID    uint64
	channelID uint64
	sig       *mls.SigningKey // kept across resets

	mu sync.Mutex // guards the fields below
	// externalSender is the op 25 payload as received; nil until set.
	externalSender []byte
	// recognized are the users Adds and Welcomes may name, self included.
	recognized map[uint64]bool
	// leafKey and leaf are the session's leaf: its encryption key pair
	// and leaf node, new on each reset.
	leafKey *mls.HPKEKey
	leaf    *mls.LeafNode
	// joinKP and joinInit are the last key package made and its init
	// key: what a Welcome opens with.
	joinKP   *mls.KeyPackage
	joinInit *mls.HPKEKey
	// current is the established group; nil while pending.
	current *group
	// pending is the group of one made at epoch 0 while no group is
	// established.
	pending *group
	// proposals are the unrevoked proposals of the epoch, in order.
	proposals []*cachedProposal
	// ownCommit is the last commit made for them, as sent in op 28, and
	// ownNext the group it leads to; nil if none.
	ownCommit []byte
	ownNext   *group
}

// NewSession returns the session of user userID in the voice channel
// channelID (the MLS group id is its 8 bytes big endian), with a fresh
// P-256 signing key. It has no group until SetExternalSender.
func NewSession(userID, channelID uint64) (*Session, error) {
	sig, err := suite.GenerateSigningKey()
	if err != nil {
		return nil, err
	}
	s := &Session{userID: userID, channelID: channelID, sig: sig, recognized: map[uint64]bool{userID: true}}
	if err := s.newLeafLocked(); err != nil {
		return nil, err
	}
	return s, nil
}

// UserID returns the session's user id.
func (s *Session) UserID() uint64 { return s.userID }

// ChannelID returns the session's channel id.
func (s *Session) ChannelID() uint64 { return s.channelID }

// groupID returns the MLS group id: the channel id as 8 bytes big endian.
func (s *Session) groupID() []byte { return binary.BigEndian.AppendUint64(nil, s.channelID) }

// credential returns the basic credential of user id: its 8 bytes big
// endian.
func credential(id uint64) mls.Credential {
	return mls.Credential{Type: mls.CredentialBasic, Identity: binary.BigEndian.AppendUint64(nil, id)}
}

// userOf returns the user id a leaf's credential names, and whether it is
// a DAVE credential (basic, 8 bytes).
func userOf(l *mls.LeafNode) (uint64, bool) {
	c := &l.Credential
	if c.Type != mls.CredentialBasic || len(c.Identity) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(c.Identity), true
}

// capabilities are the capabilities of a DAVE leaf.
func capabilities() mls.Capabilities {
	return mls.Capabilities{
		Versions:     []mls.ProtocolVersion{mls.MLS10},
		CipherSuites: []mls.CipherSuite{suite},
		Extensions:   []mls.ExtensionType{},
		Proposals:    []mls.ProposalType{},
		Credentials:  []mls.CredentialType{mls.CredentialBasic},
	}
}

// newLeafLocked gives the session a new leaf encryption key and leaf
// node.
func (s *Session) newLeafLocked() error {
	k, err := suite.GenerateHPKEKey()
	if err != nil {
		return err
	}
	leaf := &mls.LeafNode{
		EncryptionKey: k.Public(),
		SignatureKey:  s.sig.Public(),
		Credential:    credential(s.userID),
		Capabilities:  capabilities(),
		Source:        mls.SourceKeyPackage,
		Lifetime:      mls.Lifetime{NotBefore: 0, NotAfter: ^uint64(0)},
		Extensions:    []mls.Extension{},
	}
	if err := leaf.Sign(suite, s.sig, nil, 0); err != nil {
		return err
	}
	s.leafKey, s.leaf = k, leaf
	return nil
}

// parseExternalSender decodes op 25: one ExternalSender with a basic
// credential and a P-256 key. It returns the external_senders extension
// data listing it.
func parseExternalSender(op25 []byte) ([]byte, error) {
	data, ok := appendVarint(nil, uint64(len(op25)))
	if !ok {
		return nil, fmt.Errorf("%w: external sender of %d bytes", ErrMalformed, len(op25))
	}
	data = append(data, op25...)
	senders, err := mls.UnmarshalExternalSenders(data)
	if err != nil {
		return nil, fmt.Errorf("%w: external sender: %w", ErrMalformed, err)
	}
	if len(senders) != 1 {
		return nil, fmt.Errorf("%w: %d external senders in op 25", ErrMalformed, len(senders))
	}
	if senders[0].Credential.Type != mls.CredentialBasic {
		return nil, fmt.Errorf("%w: credential type %d, not basic", ErrExternalSender, senders[0].Credential.Type)
	}
	if len(senders[0].SignatureKey) != 65 || senders[0].SignatureKey[0] != 4 {
		return nil, fmt.Errorf("%w: signature key of %d bytes is no uncompressed P-256 point", ErrExternalSender, len(senders[0].SignatureKey))
	}
	return data, nil
}

// SetExternalSender sets the voice gateway's external sender from the
// payload of op 25 and makes the session's pending group (epoch 0, the
// session alone, the external sender in its group context). It returns
// an error wrapping ErrMalformed or ErrExternalSender for a payload that
// is not one basic-credential P-256 sender, and ErrExternalSender once a
// group is established (the gateway sends op 25 before any group).
func (s *Session) SetExternalSender(op25 []byte) error {
	if _, err := parseExternalSender(op25); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current != nil {
		return fmt.Errorf("%w: set at epoch %d, with the group established", ErrExternalSender, s.current.epoch())
	}
	s.externalSender = bytes.Clone(op25)
	return s.newPendingLocked()
}

// newPendingLocked makes the pending group of one and forgets the
// epoch's proposals and own commit.
func (s *Session) newPendingLocked() error {
	s.proposals, s.ownCommit, s.ownNext, s.pending = nil, nil, nil, nil
	if s.externalSender == nil {
		return nil
	}
	ext, err := parseExternalSender(s.externalSender)
	if err != nil {
		return err
	}
	exts := []mls.Extension{{Type: mls.ExtExternalSenders, Data: ext}}
	s.pending, err = newGroup(suite, s.groupID(), s.leaf, s.leafKey, s.sig, exts)
	return err
}

// KeyPackage returns the payload of op 26: a new bare KeyPackage of the
// session's leaf (suite 2, a basic credential of the user id as 8 bytes
// big endian, DAVE's capabilities, lifetime 0 to 2^64-1) with a fresh
// init key. A Welcome is opened with the last key package made.
func (s *Session) KeyPackage() ([]byte, error) {
	init, err := suite.GenerateHPKEKey()
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	kp := &mls.KeyPackage{
		Version:     mls.MLS10,
		CipherSuite: suite,
		InitKey:     init.Public(),
		LeafNode:    *s.leaf,
		Extensions:  []mls.Extension{},
	}
	if err := kp.Sign(s.sig); err != nil {
		return nil, err
	}
	b, err := kp.Marshal()
	if err != nil {
		return nil, err
	}
	s.joinKP, s.joinInit = kp, init
	return b, nil
}

// RecognizeUsers adds users to the set that Adds and Welcomes may name,
// as the voice gateway's op 11 (clients connect) lists them. The
// session's own user is always in it.
func (s *Session) RecognizeUsers(ids ...uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.recognized[id] = true
	}
}

// ForgetUser removes a user from the recognised set, as the voice
// gateway's op 13 (client disconnect) names it. The session's own user
// stays.
func (s *Session) ForgetUser(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id != s.userID {
		delete(s.recognized, id)
	}
}

// baseLocked returns the group proposals and commits apply to: the
// established one, else the pending one.
func (s *Session) baseLocked() *group {
	if s.current != nil {
		return s.current
	}
	return s.pending
}

// ProcessProposals processes the payload of op 27 (an operation byte, 0
// to append proposals or 1 to revoke them, then a vector of MLSMessages
// or of ProposalRefs) and commits every unrevoked proposal of the epoch
// by reference. It returns the payload of op 28 (the commit's
// MLSMessage, followed by a bare Welcome when it adds members), or nil
// when no proposal is left. The session keeps the commit until
// ProcessCommit sees it announced.
//
// Appended proposals must be Adds or Removes of the current epoch and
// group from external sender 0, signed by it; an Add's key package must
// verify and name a recognised user not yet in the group. Nothing of a
// payload is applied unless all of it is valid. Errors wrap
// ErrMalformed, ErrInvalidProposal or ErrUnrecognizedUser, and ErrNoGroup
// before SetExternalSender.
func (s *Session) ProcessProposals(op27 []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.baseLocked()
	if g == nil {
		return nil, fmt.Errorf("%w: proposals before the external sender", ErrNoGroup)
	}
	if len(op27) == 0 {
		return nil, fmt.Errorf("%w: empty proposals payload", ErrMalformed)
	}
	body, err := readVector(op27[1:], "proposals")
	if err != nil {
		return nil, err
	}
	proposals := slices.Clone(s.proposals)
	switch op27[0] {
	case opAppend:
		for len(body) > 0 {
			var m mls.MLSMessage
			if body, err = m.UnmarshalPrefix(body); err != nil {
				return nil, fmt.Errorf("%w: proposal message: %w", ErrMalformed, err)
			}
			cp, err := s.checkProposalLocked(g, &m, proposals)
			if err != nil {
				return nil, err
			}
			proposals = append(proposals, cp)
		}
	case opRevoke:
		for len(body) > 0 {
			var ref []byte
			if ref, body, err = readOpaque(body, "proposal ref"); err != nil {
				return nil, err
			}
			k := slices.IndexFunc(proposals, func(cp *cachedProposal) bool { return bytes.Equal(cp.ref, ref) })
			if k < 0 {
				return nil, fmt.Errorf("%w: epoch %d: revoke of unknown proposal %x", ErrInvalidProposal, g.epoch(), ref)
			}
			proposals = slices.Delete(proposals, k, k+1)
		}
	default:
		return nil, fmt.Errorf("%w: proposals operation %d", ErrMalformed, op27[0])
	}
	s.proposals = proposals
	s.ownCommit, s.ownNext = nil, nil
	if len(proposals) == 0 {
		return nil, nil
	}
	refs := make([][]byte, len(proposals))
	for i, cp := range proposals {
		refs[i] = cp.ref
	}
	res, err := g.commit(refs, proposals, false)
	if err != nil {
		return nil, fmt.Errorf("%w: epoch %d: making the commit: %w", ErrInvalidProposal, g.epoch(), err)
	}
	out, err := res.message.Marshal()
	if err != nil {
		return nil, err
	}
	s.ownCommit, s.ownNext = bytes.Clone(out), res.next
	if res.welcome != nil {
		wb, err := res.welcome.Marshal()
		if err != nil {
			return nil, err
		}
		out = append(out, wb...)
	}
	return out, nil
}

// checkProposalLocked checks an appended proposal as DAVE asks and
// returns it with its reference; queued are the proposals already
// accepted.
func (s *Session) checkProposalLocked(g *group, m *mls.MLSMessage, queued []*cachedProposal) (*cachedProposal, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: epoch %d: %s", ErrInvalidProposal, g.epoch(), fmt.Sprintf(format, args...))
	}
	if m.WireFormat != mls.WireFormatPublicMessage {
		return nil, fail("wire format %d, not a PublicMessage", m.WireFormat)
	}
	c := &m.PublicMessage.Content
	if c.Sender.Type != mls.SenderExternal || c.Sender.Index != 0 {
		return nil, fail("sender %+v, not external sender 0", c.Sender)
	}
	if c.ContentType == mls.ContentProposal && c.Proposal.Type != mls.ProposalAdd && c.Proposal.Type != mls.ProposalRemove {
		return nil, fail("proposal type %d, not Add or Remove", c.Proposal.Type)
	}
	cp, err := g.verifyProposal(m.PublicMessage)
	if err != nil {
		return nil, fmt.Errorf("%w: epoch %d: %w", ErrInvalidProposal, g.epoch(), err)
	}
	if slices.ContainsFunc(queued, func(q *cachedProposal) bool { return bytes.Equal(q.ref, cp.ref) }) {
		return nil, fail("proposal %x appended twice", cp.ref)
	}
	switch p := cp.proposal; p.Type {
	case mls.ProposalAdd:
		kp := p.KeyPackage
		if kp.CipherSuite != suite || kp.Version != mls.MLS10 {
			return nil, fail("key package of version %d, %v", kp.Version, kp.CipherSuite)
		}
		if err := kp.Verify(); err != nil {
			return nil, fmt.Errorf("%w: epoch %d: key package: %w", ErrInvalidProposal, g.epoch(), err)
		}
		id, ok := userOf(&kp.LeafNode)
		if !ok {
			return nil, fail("key package credential is not an 8-byte basic identity")
		}
		if !s.recognized[id] {
			return nil, fmt.Errorf("%w: user %d added at epoch %d", ErrUnrecognizedUser, id, g.epoch())
		}
		if leaf, in := g.members()[id]; in && !slices.ContainsFunc(queued, func(q *cachedProposal) bool {
			return q.proposal.Type == mls.ProposalRemove && q.proposal.Removed == leaf
		}) {
			return nil, fail("Add of user %d, already a member and not removed", id)
		}
		for _, q := range queued {
			if q.proposal.Type == mls.ProposalAdd {
				if qid, _ := userOf(&q.proposal.KeyPackage.LeafNode); qid == id {
					return nil, fail("user %d added twice", id)
				}
			}
		}
	case mls.ProposalRemove:
		if g.tree.Leaf(p.Removed) == nil {
			return nil, fail("Remove of blank leaf %d", p.Removed)
		}
		if p.Removed == g.self() {
			return nil, fail("Remove of the session's own leaf %d", p.Removed)
		}
	}
	return cp, nil
}

// members returns the user id of every member's leaf, by user id.
func (g *group) members() map[uint64]uint32 {
	m := map[uint64]uint32{}
	for i := range g.tree.NumLeaves() {
		if l := g.tree.Leaf(i); l != nil {
			if id, ok := userOf(l); ok {
				m[id] = i
			}
		}
	}
	return m
}

// checkRoster checks that every member of g has a DAVE credential, that
// no user id is there twice and, if recognized is not nil, that every
// user is recognised.
func checkRoster(g *group, recognized map[uint64]bool) error {
	seen := map[uint64]bool{}
	for i := range g.tree.NumLeaves() {
		l := g.tree.Leaf(i)
		if l == nil {
			continue
		}
		id, ok := userOf(l)
		switch {
		case !ok:
			return fmt.Errorf("leaf %d's credential is not an 8-byte basic identity", i)
		case seen[id]:
			return fmt.Errorf("user %d twice in the group", id)
		case recognized != nil && !recognized[id]:
			return fmt.Errorf("%w: user %d at leaf %d", ErrUnrecognizedUser, id, i)
		}
		seen[id] = true
	}
	return nil
}

// ProcessCommit processes the payload of op 29 (a u16 transition id and a
// commit MLSMessage) and returns the transition id. The commit is either
// the session's own last commit, whose group it installs, or another
// member's commit of the established group's epoch, whose proposals must
// all be references to proposals of the epoch. A session without an
// established group refuses a commit that is not its own. On success
// the session is at the commit's epoch, its proposals and own commit
// forgotten.
//
// Errors wrap ErrMalformed, ErrInvalidCommit, ErrNoGroup, or ErrRemoved
// when the commit removes the session's member (it then has no group). On
// any other error the state is as it was; the caller sends op 31 and
// calls Reset.
func (s *Session) ProcessCommit(op29 []byte) (transitionID uint16, err error) {
	if len(op29) < 2 {
		return 0, fmt.Errorf("%w: announce commit of %d bytes", ErrMalformed, len(op29))
	}
	transitionID = binary.BigEndian.Uint16(op29)
	msg := op29[2:]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ownCommit != nil && bytes.Equal(msg, s.ownCommit) {
		s.installLocked(s.ownNext)
		return transitionID, nil
	}
	var m mls.MLSMessage
	if err := m.Unmarshal(msg); err != nil {
		return transitionID, fmt.Errorf("%w: commit: %w", ErrMalformed, err)
	}
	g := s.current
	if g == nil {
		return transitionID, fmt.Errorf("%w: %w: another member's commit before the group is established", ErrInvalidCommit, ErrNoGroup)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: epoch %d: %s", ErrInvalidCommit, g.epoch(), fmt.Sprintf(format, args...))
	}
	if m.WireFormat != mls.WireFormatPublicMessage {
		return transitionID, fail("wire format %d, not a PublicMessage", m.WireFormat)
	}
	pm := m.PublicMessage
	if pm.Content.ContentType != mls.ContentCommit {
		return transitionID, fail("content type %d, not a commit", pm.Content.ContentType)
	}
	for i, p := range pm.Content.Commit.Proposals {
		if p.Proposal != nil {
			return transitionID, fail("proposal %d by value", i)
		}
	}
	oldLeaf := g.tree.Leaf(pm.Content.Sender.Index)
	next, _, err := g.processCommit(pm, s.proposals)
	if err == errSelfRemoved {
		s.current = nil
		s.proposals, s.ownCommit, s.ownNext = nil, nil, nil
		return transitionID, fmt.Errorf("%w: by the commit of epoch %d", ErrRemoved, g.epoch())
	}
	if err != nil {
		return transitionID, fmt.Errorf("%w: epoch %d: %w", ErrInvalidCommit, g.epoch(), err)
	}
	if path := pm.Content.Commit.Path; path != nil {
		if !bytes.Equal(path.LeafNode.SignatureKey, oldLeaf.SignatureKey) {
			return transitionID, fail("the committer's signature key changed")
		}
		oldID, _ := userOf(oldLeaf)
		if id, ok := userOf(&path.LeafNode); !ok || id != oldID {
			return transitionID, fail("the committer's credential changed")
		}
	}
	if err := checkRoster(next, nil); err != nil {
		return transitionID, fmt.Errorf("%w: epoch %d: %w", ErrInvalidCommit, g.epoch(), err)
	}
	s.installLocked(next)
	return transitionID, nil
}

// installLocked makes g the established group and forgets the pending
// group, the proposals and the own commit.
func (s *Session) installLocked(g *group) {
	s.current = g
	s.pending = nil
	s.proposals, s.ownCommit, s.ownNext = nil, nil, nil
}

// ProcessWelcome processes the payload of op 30 (a u16 transition id and
// a bare Welcome) and returns the transition id. It opens the Welcome
// with the last key package made, takes the ratchet tree from the group
// info, checks it all (signatures, parent hashes, tree hash, confirmation
// tag), and that the group is the channel's, its external sender the one
// of op 25, every member a recognised user once. It then replaces
// whatever group the session had (a pending group that lost its commit,
// for one).
//
// Errors wrap ErrMalformed, ErrInvalidWelcome, ErrUnrecognizedUser or
// ErrNoExternalSender; the state is then as it was and the caller sends
// op 31 and calls Reset.
func (s *Session) ProcessWelcome(op30 []byte) (transitionID uint16, err error) {
	if len(op30) < 2 {
		return 0, fmt.Errorf("%w: welcome of %d bytes", ErrMalformed, len(op30))
	}
	transitionID = binary.BigEndian.Uint16(op30)
	var wl mls.Welcome
	if err := wl.Unmarshal(op30[2:]); err != nil {
		return transitionID, fmt.Errorf("%w: welcome: %w", ErrMalformed, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.externalSender == nil {
		return transitionID, fmt.Errorf("%w: welcome before op 25", ErrNoExternalSender)
	}
	if s.joinKP == nil {
		return transitionID, fmt.Errorf("%w: welcome before any key package was made", ErrInvalidWelcome)
	}
	if wl.CipherSuite != suite {
		return transitionID, fmt.Errorf("%w: %v", ErrInvalidWelcome, wl.CipherSuite)
	}
	g, err := joinGroup(&wl, s.joinKP, s.joinInit, s.leafKey, s.sig, nil)
	if err != nil {
		return transitionID, fmt.Errorf("%w: %w", ErrInvalidWelcome, err)
	}
	if !bytes.Equal(g.ctx.GroupID, s.groupID()) {
		return transitionID, fmt.Errorf("%w: epoch %d: group %x, not channel %d", ErrInvalidWelcome, g.epoch(), g.ctx.GroupID, s.channelID)
	}
	want, err := parseExternalSender(s.externalSender)
	if err != nil {
		return transitionID, err
	}
	var senders int
	for _, e := range g.ctx.Extensions {
		if e.Type == mls.ExtExternalSenders {
			senders++
			if !bytes.Equal(e.Data, want) {
				return transitionID, fmt.Errorf("%w: %w: epoch %d: the group's external sender is not op 25's", ErrInvalidWelcome, ErrExternalSender, g.epoch())
			}
		}
	}
	if senders != 1 {
		return transitionID, fmt.Errorf("%w: epoch %d: %d external_senders extensions", ErrInvalidWelcome, g.epoch(), senders)
	}
	if err := checkRoster(g, s.recognized); err != nil {
		return transitionID, fmt.Errorf("%w: epoch %d: %w", ErrInvalidWelcome, g.epoch(), err)
	}
	s.installLocked(g)
	return transitionID, nil
}

// Reset forgets the session's groups, proposals and key packages, gives
// it a new leaf and, if the external sender is set, a new pending group:
// what a client does after sending op 31 for a commit or welcome it
// could not process, and on op 24 with epoch 1 (the sole member's reset).
// The caller then sends a new key package (KeyPackage) in op 26. The
// signing key, external sender and recognised users are kept.
func (s *Session) Reset() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current, s.joinKP, s.joinInit = nil, nil, nil
	if err := s.newLeafLocked(); err != nil {
		return err
	}
	return s.newPendingLocked()
}

// Established reports whether the session is a member of an established
// group (epoch 1 or later), whose keys the media may use.
func (s *Session) Established() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current != nil
}

// Epoch returns the established group's epoch, or 0 without one.
func (s *Session) Epoch() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == nil {
		return 0
	}
	return s.current.epoch()
}

// UserIDs returns the user ids of the established group's members in
// increasing order, or nil without a group.
func (s *Session) UserIDs() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == nil {
		return nil
	}
	var ids []uint64
	for id := range s.current.members() {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// EpochAuthenticator returns the established group's epoch authenticator
// (32 bytes, the same for every member of the epoch), or nil without a
// group. The caller must not modify it.
func (s *Session) EpochAuthenticator() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == nil {
		return nil
	}
	return s.current.secrets.EpochAuthenticator
}

// PrivacyCode returns the voice privacy code of the established group:
// DisplayableCode of the epoch authenticator, 30 digits in groups of 5,
// or "" without a group.
func (s *Session) PrivacyCode() string {
	a := s.EpochAuthenticator()
	if a == nil {
		return ""
	}
	code, err := DisplayableCode(a, 30, 5)
	if err != nil {
		panic(err) // 32 bytes always make 30 digits
	}
	return code
}

// SenderSecret returns the 16-byte base secret of the key ratchet of a
// member's media in the established group's epoch: MLS-Exporter("Discord
// Secure Frames v0", the user id as 8 bytes little endian, 16). It
// returns an error wrapping ErrNoGroup without an established group, or
// ErrNotMember for a user outside it.
func (s *Session) SenderSecret(userID uint64) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == nil {
		return nil, fmt.Errorf("%w: sender secret of user %d", ErrNoGroup, userID)
	}
	if _, ok := s.current.members()[userID]; !ok {
		return nil, fmt.Errorf("%w: user %d at epoch %d", ErrNotMember, userID, s.current.epoch())
	}
	return s.current.secrets.Export(senderSecretLabel, binary.LittleEndian.AppendUint64(nil, userID), 16)
}

// KeyRatchet returns the key ratchet of a member's media frames in the
// established group's epoch, NewKeyRatchet(SenderSecret(userID)): what an
// Encryptor (the session's own user) or a member's Decryptor is given
// when a transition executes. Errors as SenderSecret's.
func (s *Session) KeyRatchet(userID uint64) (*KeyRatchet, error) {
	secret, err := s.SenderSecret(userID)
	if err != nil {
		return nil, err
	}
	return NewKeyRatchet(secret)
}
