package dave

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// Opcodes of the voice gateway that carry DAVE's MLS payloads.
const (
	OpExternalSender  = 25 // S→C: the external sender (ExternalSender.Package)
	OpKeyPackage      = 26 // C→S: a key package (Session.KeyPackage)
	OpProposals       = 27 // S→C: proposals to append or revoke
	OpCommitWelcome   = 28 // C→S: a commit and its welcome (Session.ProcessProposals)
	OpAnnounceCommit  = 29 // S→C: the winning commit, with its transition id
	OpWelcome         = 30 // S→C: a welcome, with its transition id
	OpInvalidTransfer = 31 // C→S: a commit or welcome the client could not process
)

// Delivery is a binary payload the voice gateway sends to one user: the
// part after the sequence number and opcode of a server-to-client binary
// frame.
type Delivery struct {
	UserID  uint64
	Opcode  uint8
	Payload []byte
}

// ExternalSender is the MLS part of a DAVE voice gateway for one channel
// (DAVE.md section 2, "Server"): it holds the P-256 external-sender key
// whose public part op 25 carries, turns the key packages of op 26 into
// external Add proposals and departures into Remove proposals or revokes
// (op 27), and chooses the first valid commit of each epoch (op 28),
// which it announces to its author and the members (op 29) and whose
// Welcome it splits per joiner (op 30). It mirrors the group's roster
// (user by leaf, Adds taking the leftmost blank leaf) to address Removes.
//
// Until a first commit is chosen every user with a key package is
// pending: each pending user gets the Adds of the others, and whoever
// commits first creates the group. Reset returns to that state (the sole
// member's reset of op 24).
//
// It does not decrypt anything: it checks a commit's framing and
// references, not its signature or confirmation tag, which the members
// check. An ExternalSender is safe for concurrent use.
type ExternalSender struct {
	channelID uint64
	key       *mls.SigningKey
	op25      []byte

	mu sync.Mutex // guards the fields below
	// epoch is the group's epoch; 0 until the first commit.
	epoch uint64
	// established is set once a first commit was chosen.
	established bool
	// leaves holds the user id of each leaf, 0 for a blank leaf.
	leaves []uint64
	// sigKeys are the signature keys of members and pending users.
	sigKeys map[uint64][]byte
	// pending are the key packages of users not (yet) in the group.
	pending map[uint64]*mls.KeyPackage
	// proposals are the epoch's unrevoked proposals, in order sent.
	proposals []*serverProposal
}

// serverProposal is an external proposal the gateway sent this epoch.
type serverProposal struct {
	ref     []byte
	message []byte // the MLSMessage
	added   uint64 // the user an Add adds, 0 for a Remove
	removed uint32 // the leaf a Remove removes
	// to are the users it was sent to.
	to []uint64
}

// NewExternalSender returns the external sender of voice channel
// channelID (group id: its 8 bytes big endian) with a fresh P-256 key.
func NewExternalSender(channelID uint64) (*ExternalSender, error) {
	key, err := suite.GenerateSigningKey()
	if err != nil {
		return nil, err
	}
	// op 25: opaque signature_key<V>; Credential (basic, identity 0x00, as
	// Discord's gateway sends).
	op25 := appendOpaque(nil, key.Public())
	op25 = binary.BigEndian.AppendUint16(op25, uint16(mls.CredentialBasic))
	op25 = appendOpaque(op25, []byte{0})
	return &ExternalSender{
		channelID: channelID,
		key:       key,
		op25:      op25,
		sigKeys:   map[uint64][]byte{},
		pending:   map[uint64]*mls.KeyPackage{},
	}, nil
}

// Package returns the payload of op 25. The caller must not modify it.
func (x *ExternalSender) Package() []byte { return x.op25 }

// Epoch returns the group's epoch: 0 until a first commit is chosen.
func (x *ExternalSender) Epoch() uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.epoch
}

// Members returns the users in the group, by leaf order.
func (x *ExternalSender) Members() []uint64 {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.membersLocked()
}

func (x *ExternalSender) membersLocked() []uint64 {
	var m []uint64
	for _, u := range x.leaves {
		if u != 0 {
			m = append(m, u)
		}
	}
	return m
}

// Leaf returns a member's leaf index, and whether it is a member.
func (x *ExternalSender) Leaf(userID uint64) (uint32, bool) {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.leafLocked(userID)
}

func (x *ExternalSender) leafLocked(userID uint64) (uint32, bool) {
	i := slices.Index(x.leaves, userID)
	return uint32(i), i >= 0 && userID != 0
}

// pendingUsersLocked returns the users with a key package not in the
// group, in increasing order.
func (x *ExternalSender) pendingUsersLocked() []uint64 {
	var p []uint64
	for u := range x.pending {
		p = append(p, u)
	}
	slices.Sort(p)
	return p
}

// recipientsLocked returns who gets a proposal about user about: the
// members, or before the first commit the other pending users.
func (x *ExternalSender) recipientsLocked(about uint64) []uint64 {
	users := x.membersLocked()
	if !x.established {
		users = x.pendingUsersLocked()
	}
	return slices.DeleteFunc(users, func(u uint64) bool { return u == about })
}

// parseKeyPackage decodes op 26: a bare KeyPackage, as libdave and davey
// send it, or one wrapped in an MLSMessage, as the protocol text says.
func parseKeyPackage(op26 []byte) (*mls.KeyPackage, error) {
	kp := new(mls.KeyPackage)
	if err := kp.Unmarshal(op26); err == nil {
		return kp, nil
	}
	var m mls.MLSMessage
	if err := m.Unmarshal(op26); err != nil || m.WireFormat != mls.WireFormatKeyPackage {
		return nil, fmt.Errorf("%w: neither a KeyPackage nor an MLSMessage carrying one", ErrBadKeyPackage)
	}
	return m.KeyPackage, nil
}

// AddKeyPackage takes user userID's key package (the payload of op 26)
// and returns the op 27 payloads to send: an external Add of it to the
// members (before the first commit: to the other pending users, and to
// this user the Adds already in flight). A member sending a key package
// again (after op 31) is removed and added again in the same epoch; a
// pending user's earlier Add is revoked. It returns an error wrapping
// ErrBadKeyPackage for a key package that does not decode or verify, is
// not of suite 2, names another user, or has a lifetime other than 0 to
// 2^64-1.
func (x *ExternalSender) AddKeyPackage(userID uint64, op26 []byte) ([]Delivery, error) {
	kp, err := parseKeyPackage(op26)
	if err != nil {
		return nil, err
	}
	switch id, ok := userOf(&kp.LeafNode); {
	case kp.Version != mls.MLS10 || kp.CipherSuite != suite:
		return nil, fmt.Errorf("%w: version %d, %v", ErrBadKeyPackage, kp.Version, kp.CipherSuite)
	case !ok || id != userID:
		return nil, fmt.Errorf("%w: credential is not user %d's", ErrBadKeyPackage, userID)
	case kp.LeafNode.Lifetime != mls.Lifetime{NotBefore: 0, NotAfter: ^uint64(0)}:
		return nil, fmt.Errorf("%w: lifetime %d to %d", ErrBadKeyPackage, kp.LeafNode.Lifetime.NotBefore, kp.LeafNode.Lifetime.NotAfter)
	case bytes.Equal(kp.InitKey, kp.LeafNode.EncryptionKey):
		return nil, fmt.Errorf("%w: init key equals the leaf's encryption key", ErrBadKeyPackage)
	}
	if err := kp.Verify(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadKeyPackage, err)
	}

	x.mu.Lock()
	defer x.mu.Unlock()
	var out []Delivery
	// An earlier Add of the user in this epoch is revoked.
	if d := x.revokeAddLocked(userID); d != nil {
		out = append(out, d...)
	}
	var msgs [][]byte
	if leaf, ok := x.leafLocked(userID); ok {
		rm, err := x.proposeLocked(&mls.Proposal{Type: mls.ProposalRemove, Removed: leaf}, 0, leaf)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, rm.message)
	}
	add, err := x.proposeLocked(&mls.Proposal{Type: mls.ProposalAdd, KeyPackage: kp}, userID, 0)
	if err != nil {
		return nil, err
	}
	msgs = append(msgs, add.message)
	x.pending[userID] = kp
	x.sigKeys[userID] = kp.LeafNode.SignatureKey

	to := x.recipientsLocked(userID)
	for _, p := range x.proposals {
		if p.added == userID || p.added == 0 && x.leaves[p.removed] == userID {
			p.to = to
		}
	}
	for _, u := range to {
		out = append(out, Delivery{UserID: u, Opcode: OpProposals, Payload: appendMessages(msgs)})
	}
	if !x.established {
		// The new pending user gets the Adds already in flight.
		var inFlight [][]byte
		for _, p := range x.proposals {
			if p.added != 0 && p.added != userID {
				inFlight = append(inFlight, p.message)
				p.to = append(p.to, userID)
			}
		}
		if len(inFlight) > 0 {
			out = append(out, Delivery{UserID: userID, Opcode: OpProposals, Payload: appendMessages(inFlight)})
		}
	}
	return out, nil
}

// appendMessages returns an op 27 append payload of messages.
func appendMessages(msgs [][]byte) []byte {
	return appendOpaque([]byte{opAppend}, bytes.Join(msgs, nil))
}

// proposeLocked signs p as external sender 0 for the current epoch and
// records it.
func (x *ExternalSender) proposeLocked(p *mls.Proposal, added uint64, removed uint32) (*serverProposal, error) {
	ac := &mls.AuthenticatedContent{
		WireFormat: mls.WireFormatPublicMessage,
		Content: mls.FramedContent{
			GroupID:           binary.BigEndian.AppendUint64(nil, x.channelID),
			Epoch:             x.epoch,
			Sender:            mls.Sender{Type: mls.SenderExternal, Index: 0},
			AuthenticatedData: []byte{},
			ContentType:       mls.ContentProposal,
			Proposal:          p,
		},
	}
	if err := ac.Sign(suite, x.key, nil); err != nil {
		return nil, err
	}
	ref, err := ac.Ref(suite)
	if err != nil {
		return nil, err
	}
	m := &mls.MLSMessage{Version: mls.MLS10, WireFormat: mls.WireFormatPublicMessage,
		PublicMessage: &mls.PublicMessage{Content: ac.Content, Auth: ac.Auth}}
	b, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	sp := &serverProposal{ref: ref, message: b, added: added, removed: removed}
	x.proposals = append(x.proposals, sp)
	return sp, nil
}

// revokeAddLocked revokes the pending Add of userID, if any, and returns
// the op 27 revokes for those it was sent to.
func (x *ExternalSender) revokeAddLocked(userID uint64) []Delivery {
	k := slices.IndexFunc(x.proposals, func(p *serverProposal) bool { return p.added == userID })
	if k < 0 {
		return nil
	}
	p := x.proposals[k]
	x.proposals = slices.Delete(x.proposals, k, k+1)
	payload := appendOpaque([]byte{opRevoke}, appendOpaque(nil, p.ref))
	var out []Delivery
	for _, u := range p.to {
		if u != userID {
			out = append(out, Delivery{UserID: u, Opcode: OpProposals, Payload: payload})
		}
	}
	return out
}

// RemoveUser handles a user's departure (op 13): a member is removed by
// an external Remove sent to the other members; a pending user's Add is
// revoked where it was sent and its key package forgotten. It returns
// the op 27 payloads to send, none for a user the group does not know.
func (x *ExternalSender) RemoveUser(userID uint64) ([]Delivery, error) {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := x.revokeAddLocked(userID)
	delete(x.pending, userID)
	leaf, ok := x.leafLocked(userID)
	if !ok {
		if !slices.Contains(x.leaves, userID) {
			delete(x.sigKeys, userID)
		}
		return out, nil
	}
	if slices.ContainsFunc(x.proposals, func(p *serverProposal) bool { return p.added == 0 && p.removed == leaf }) {
		return out, nil // already proposed
	}
	rm, err := x.proposeLocked(&mls.Proposal{Type: mls.ProposalRemove, Removed: leaf}, 0, leaf)
	if err != nil {
		return nil, err
	}
	rm.to = x.recipientsLocked(userID)
	for _, u := range rm.to {
		out = append(out, Delivery{UserID: u, Opcode: OpProposals, Payload: appendMessages([][]byte{rm.message})})
	}
	return out, nil
}

// Reset forgets the group, as the gateway does when one member is left
// (it then sends that member op 24 with epoch 1): the epoch is 0 again,
// nobody is a member or pending, and the next key packages create a new
// group.
func (x *ExternalSender) Reset() {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.epoch, x.established, x.leaves, x.proposals = 0, false, nil, nil
	x.sigKeys = map[uint64][]byte{}
	x.pending = map[uint64]*mls.KeyPackage{}
}

// Commit takes the payload of op 28 from user from (a commit MLSMessage,
// followed by a bare Welcome when it adds members). If it is the first
// valid commit of the epoch the gateway moves to the next epoch and
// returns what to send, with transitionID: op 29 to the committer and the
// other members staying, op 30 to each member added, carrying only that
// member's encrypted group secrets. It returns an error wrapping
// ErrCommitRejected for a commit the gateway drops: of another epoch or
// group (a later commit of an epoch already won), not from the user's
// leaf, without proposals, with a proposal by value or one not of this
// epoch, not referencing every proposal of the epoch (but the
// committer's own Add before the first commit), a Remove without a path,
// a path changing the committer's credential or signature key, or a
// Welcome missing for an added member.
func (x *ExternalSender) Commit(from uint64, op28 []byte, transitionID uint16) ([]Delivery, error) {
	var m mls.MLSMessage
	rest, err := m.UnmarshalPrefix(op28)
	if err != nil {
		return nil, fmt.Errorf("%w: %w: %w", ErrCommitRejected, ErrMalformed, err)
	}
	commitBytes := op28[:len(op28)-len(rest)]

	x.mu.Lock()
	defer x.mu.Unlock()
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: epoch %d: user %d: %s", ErrCommitRejected, x.epoch, from, fmt.Sprintf(format, args...))
	}
	if m.WireFormat != mls.WireFormatPublicMessage || m.PublicMessage.Content.ContentType != mls.ContentCommit {
		return nil, fail("not a commit in a PublicMessage")
	}
	c := &m.PublicMessage.Content
	if !bytes.Equal(c.GroupID, binary.BigEndian.AppendUint64(nil, x.channelID)) {
		return nil, fail("group %x", c.GroupID)
	}
	if c.Epoch != x.epoch {
		return nil, fail("commit of epoch %d", c.Epoch)
	}
	if c.Sender.Type != mls.SenderMember {
		return nil, fail("sender type %d", c.Sender.Type)
	}
	if x.established {
		if leaf, ok := x.leafLocked(from); !ok || leaf != c.Sender.Index {
			return nil, fail("sender leaf %d is not the user's", c.Sender.Index)
		}
	} else if x.pending[from] == nil || c.Sender.Index != 0 {
		return nil, fail("not a pending user's commit from leaf 0")
	}
	commit := c.Commit
	if len(commit.Proposals) == 0 {
		return nil, fail("no proposals")
	}
	var used []*serverProposal
	for i, p := range commit.Proposals {
		if p.Proposal != nil {
			return nil, fail("proposal %d by value", i)
		}
		k := slices.IndexFunc(x.proposals, func(sp *serverProposal) bool { return bytes.Equal(sp.ref, p.Ref) })
		if k < 0 {
			return nil, fail("proposal %d: reference %x is no proposal of the epoch", i, p.Ref)
		}
		if slices.Contains(used, x.proposals[k]) {
			return nil, fail("proposal %d referenced twice", i)
		}
		if x.proposals[k].added == from {
			return nil, fail("the committer adds itself")
		}
		used = append(used, x.proposals[k])
	}
	for _, p := range x.proposals {
		if !slices.Contains(used, p) && p.added != from {
			return nil, fail("proposal %x not referenced", p.ref)
		}
	}
	removes := slices.ContainsFunc(used, func(p *serverProposal) bool { return p.added == 0 })
	if removes && commit.Path == nil {
		return nil, fail("a Remove without a path")
	}
	if path := commit.Path; path != nil {
		if id, ok := userOf(&path.LeafNode); !ok || id != from {
			return nil, fail("the path's credential is not the committer's")
		}
		if !bytes.Equal(path.LeafNode.SignatureKey, x.sigKeys[from]) {
			return nil, fail("the path changes the committer's signature key")
		}
	}
	var adds []*serverProposal
	for _, p := range used {
		if p.added != 0 {
			adds = append(adds, p)
		}
	}
	var wl mls.Welcome
	switch {
	case len(adds) == 0 && len(rest) > 0:
		return nil, fail("%d bytes after a commit that adds nobody", len(rest))
	case len(adds) > 0:
		if err := wl.Unmarshal(rest); err != nil {
			return nil, fail("welcome: %v", err)
		}
	}
	welcomes := map[uint64][]byte{}
	for _, p := range adds {
		ref, err := x.pending[p.added].Ref()
		if err != nil {
			return nil, err
		}
		k := slices.IndexFunc(wl.Secrets, func(s mls.EncryptedGroupSecrets) bool { return bytes.Equal(s.NewMember, ref) })
		if k < 0 {
			return nil, fail("no welcome for user %d", p.added)
		}
		one := mls.Welcome{CipherSuite: wl.CipherSuite, Secrets: wl.Secrets[k : k+1], EncryptedGroupInfo: wl.EncryptedGroupInfo}
		b, err := one.Marshal()
		if err != nil {
			return nil, err
		}
		welcomes[p.added] = binary.BigEndian.AppendUint16(b[:0:0], transitionID)
		welcomes[p.added] = append(welcomes[p.added], b...)
	}

	// The commit wins the epoch: mirror it.
	if !x.established {
		x.leaves = []uint64{from}
		delete(x.pending, from)
	}
	for _, p := range used {
		if p.added == 0 {
			delete(x.sigKeys, x.leaves[p.removed])
			x.leaves[p.removed] = 0
		}
	}
	for len(x.leaves) > 0 && x.leaves[len(x.leaves)-1] == 0 {
		x.leaves = x.leaves[:len(x.leaves)-1]
	}
	for _, p := range adds {
		if i := slices.Index(x.leaves, 0); i >= 0 {
			x.leaves[i] = p.added
		} else {
			x.leaves = append(x.leaves, p.added)
		}
		x.sigKeys[p.added] = x.pending[p.added].LeafNode.SignatureKey
		delete(x.pending, p.added)
	}
	x.established = true
	x.epoch++
	x.proposals = nil

	announce := binary.BigEndian.AppendUint16(nil, transitionID)
	announce = append(announce, commitBytes...)
	var out []Delivery
	for _, u := range x.membersLocked() {
		if w, ok := welcomes[u]; ok {
			out = append(out, Delivery{UserID: u, Opcode: OpWelcome, Payload: w})
		} else {
			out = append(out, Delivery{UserID: u, Opcode: OpAnnounceCommit, Payload: announce})
		}
	}
	return out, nil
}
