package dave

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"math/bits"
	"slices"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// group is one epoch of an MLS group as a member holds it: the public
// ratchet tree, the member's private keys, the group context, the epoch's
// secrets and the interim transcript hash (RFC 9420 sections 8 and 12).
// It is a value of one epoch: creating or processing a commit returns the
// next epoch's group and leaves the receiver as it was. It is general
// MLS for what it supports (proposals by value or reference; Add, Remove,
// Update and GroupContextExtensions; PreSharedKey in a commit it
// receives, when it has a PSK store; PublicMessage framing), so that the
// passive-client vectors check it; DAVE's own restrictions are the
// Session's. A group is not safe for concurrent use.
type group struct {
	cs      mls.CipherSuite
	ctx     mls.GroupContext
	tree    *mls.RatchetTree
	priv    *mls.PrivateTree
	secrets *mls.EpochSecrets
	interim []byte // interim transcript hash after the epoch's commit
	sig     *mls.SigningKey
	// psks holds the pre-shared keys the group's commits may inject, and
	// gets each epoch's resumption PSK; nil (DAVE's groups) refuses
	// PreSharedKey proposals.
	psks *mls.PSKStore
}

// cachedProposal is a proposal received in a PublicMessage of the current
// epoch, kept by its ProposalRef until a commit references it.
type cachedProposal struct {
	ref      []byte
	proposal *mls.Proposal
	sender   mls.Sender
}

// appliedProposal is a proposal of a commit with its sender: the committer
// for a proposal by value.
type appliedProposal struct {
	proposal *mls.Proposal
	sender   mls.Sender
}

// joiner is a member a commit adds: its leaf and key package.
type joiner struct {
	leaf uint32
	kp   *mls.KeyPackage
}

// newGroup creates a group of one member at epoch 0 (RFC 9420 section
// 11): leaf is the creator's leaf node (source key_package), leafKey its
// private encryption key, sig its signing key.
func newGroup(cs mls.CipherSuite, groupID []byte, leaf *mls.LeafNode, leafKey *mls.HPKEKey, sig *mls.SigningKey, exts []mls.Extension) (*group, error) {
	tree := &mls.RatchetTree{}
	tree.AddLeaf(leaf)
	g := &group{
		cs:   cs,
		tree: tree,
		priv: mls.NewPrivateTree(0, leafKey),
		sig:  sig,
		ctx: mls.GroupContext{
			Version:                 mls.MLS10,
			CipherSuite:             cs,
			GroupID:                 groupID,
			TreeHash:                tree.TreeHash(cs),
			ConfirmedTranscriptHash: []byte{},
			Extensions:              exts,
		},
	}
	initSecret := make([]byte, 32)
	if _, err := rand.Read(initSecret); err != nil {
		return nil, err
	}
	var err error
	if g.secrets, err = cs.KeySchedule(initSecret, nil, nil, &g.ctx); err != nil {
		return nil, err
	}
	tag := g.secrets.ConfirmationTag(g.ctx.ConfirmedTranscriptHash)
	if g.interim, err = cs.InterimTranscriptHash(g.ctx.ConfirmedTranscriptHash, tag); err != nil {
		return nil, err
	}
	return g, nil
}

// epoch returns the group's epoch.
func (g *group) epoch() uint64 { return g.ctx.Epoch }

// self returns the member's own leaf index.
func (g *group) self() uint32 { return g.priv.Leaf }

// extension returns the data of the group context's extension of type t.
func (g *group) extension(t mls.ExtensionType) ([]byte, bool) {
	for _, e := range g.ctx.Extensions {
		if e.Type == t {
			return e.Data, true
		}
	}
	return nil, false
}

// externalSenderKey returns the signature key of external sender i of the
// group's external_senders extension.
func (g *group) externalSenderKey(i uint32) ([]byte, error) {
	data, ok := g.extension(mls.ExtExternalSenders)
	if !ok {
		return nil, fmt.Errorf("external sender %d: the group has no external_senders extension", i)
	}
	senders, err := mls.UnmarshalExternalSenders(data)
	if err != nil {
		return nil, err
	}
	if uint64(i) >= uint64(len(senders)) {
		return nil, fmt.Errorf("external sender %d: the group has %d", i, len(senders))
	}
	return senders[i].SignatureKey, nil
}

// verifyProposal checks a proposal's PublicMessage as RFC 9420 section 6
// asks of its receiver: this group and epoch, a proposal, and the
// sender's signature (and membership tag for a member). It returns the
// proposal with its ProposalRef.
func (g *group) verifyProposal(pm *mls.PublicMessage) (*cachedProposal, error) {
	c := &pm.Content
	if c.ContentType != mls.ContentProposal {
		return nil, fmt.Errorf("content type %d, not a proposal", c.ContentType)
	}
	if !bytes.Equal(c.GroupID, g.ctx.GroupID) {
		return nil, fmt.Errorf("group %x, not %x", c.GroupID, g.ctx.GroupID)
	}
	if c.Epoch != g.ctx.Epoch {
		return nil, fmt.Errorf("proposal of epoch %d", c.Epoch)
	}
	ac := pm.AuthenticatedContent()
	switch c.Sender.Type {
	case mls.SenderMember:
		leaf := g.tree.Leaf(c.Sender.Index)
		if leaf == nil {
			return nil, fmt.Errorf("sender leaf %d is blank", c.Sender.Index)
		}
		if err := pm.VerifyMembershipTag(g.cs, g.secrets.MembershipKey, &g.ctx); err != nil {
			return nil, err
		}
		if err := ac.Verify(g.cs, leaf.SignatureKey, &g.ctx); err != nil {
			return nil, err
		}
	case mls.SenderExternal:
		key, err := g.externalSenderKey(c.Sender.Index)
		if err != nil {
			return nil, err
		}
		if err := ac.Verify(g.cs, key, nil); err != nil {
			return nil, err
		}
	case mls.SenderNewMemberProposal:
		if c.Proposal.Type != mls.ProposalAdd {
			return nil, fmt.Errorf("new member proposal of type %d, not Add", c.Proposal.Type)
		}
		if err := ac.Verify(g.cs, c.Proposal.KeyPackage.LeafNode.SignatureKey, nil); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("proposal from sender type %d", c.Sender.Type)
	}
	ref, err := ac.Ref(g.cs)
	if err != nil {
		return nil, err
	}
	return &cachedProposal{ref: ref, proposal: c.Proposal, sender: c.Sender}, nil
}

// resolve returns the proposals of a commit by committer: those by
// reference from cache, those by value with the committer as sender.
func resolve(c *mls.Commit, committer uint32, cache []*cachedProposal) ([]appliedProposal, error) {
	out := make([]appliedProposal, 0, len(c.Proposals))
	for i, p := range c.Proposals {
		if p.Proposal != nil {
			out = append(out, appliedProposal{p.Proposal, mls.Sender{Type: mls.SenderMember, Index: committer}})
			continue
		}
		k := slices.IndexFunc(cache, func(cp *cachedProposal) bool { return bytes.Equal(cp.ref, p.Ref) })
		if k < 0 {
			return nil, fmt.Errorf("proposal %d: unknown reference %x", i, p.Ref)
		}
		out = append(out, appliedProposal{cache[k].proposal, cache[k].sender})
	}
	return out, nil
}

// apply applies the proposals of a commit by committer to tree, in the
// order of RFC 9420 section 12.3 (GroupContextExtensions, Update, Remove,
// Add), checking what section 12.2 asks. It returns the members added,
// the new group context extensions (nil if unchanged) and whether the
// commit must carry a path.
func (g *group) apply(tree *mls.RatchetTree, props []appliedProposal, committer uint32) (joiners []joiner, exts []mls.Extension, pathRequired bool, err error) {
	pathRequired = len(props) == 0
	for _, p := range props {
		switch p.proposal.Type {
		case mls.ProposalAdd:
		case mls.ProposalUpdate, mls.ProposalRemove, mls.ProposalGroupContextExtensions:
			pathRequired = true
		case mls.ProposalPSK:
			if g.psks == nil {
				return nil, nil, false, fmt.Errorf("%w: pre-shared key proposal", ErrUnsupported)
			}
		case mls.ProposalReInit:
			return nil, nil, false, fmt.Errorf("%w: ReInit proposal", ErrUnsupported)
		case mls.ProposalExternalInit:
			return nil, nil, false, fmt.Errorf("%w: external commit", ErrUnsupported)
		default:
			return nil, nil, false, fmt.Errorf("proposal type %d", p.proposal.Type)
		}
	}
	for _, p := range props {
		if p.proposal.Type == mls.ProposalGroupContextExtensions {
			if exts != nil {
				return nil, nil, false, fmt.Errorf("two GroupContextExtensions proposals")
			}
			exts = p.proposal.Extensions
		}
	}
	updated := map[uint32]bool{}
	for _, p := range props {
		if p.proposal.Type != mls.ProposalUpdate {
			continue
		}
		if p.sender.Type != mls.SenderMember || p.sender.Index == committer {
			return nil, nil, false, fmt.Errorf("Update from sender %+v in a commit by leaf %d", p.sender, committer)
		}
		if updated[p.sender.Index] {
			return nil, nil, false, fmt.Errorf("two Updates of leaf %d", p.sender.Index)
		}
		updated[p.sender.Index] = true
		leaf := p.proposal.LeafNode
		if leaf.Source != mls.SourceUpdate {
			return nil, nil, false, fmt.Errorf("Update with leaf node source %d", leaf.Source)
		}
		if err := leaf.Verify(g.cs, g.ctx.GroupID, p.sender.Index); err != nil {
			return nil, nil, false, err
		}
		if err := tree.UpdateLeaf(p.sender.Index, leaf); err != nil {
			return nil, nil, false, err
		}
	}
	removed := map[uint32]bool{}
	for _, p := range props {
		if p.proposal.Type != mls.ProposalRemove {
			continue
		}
		r := p.proposal.Removed
		if r == committer {
			return nil, nil, false, fmt.Errorf("the committer, leaf %d, removes itself", r)
		}
		if removed[r] || updated[r] {
			return nil, nil, false, fmt.Errorf("leaf %d removed twice or updated and removed", r)
		}
		removed[r] = true
		if err := tree.RemoveLeaf(r); err != nil {
			return nil, nil, false, err
		}
	}
	for _, p := range props {
		if p.proposal.Type != mls.ProposalAdd {
			continue
		}
		kp := p.proposal.KeyPackage
		if kp.Version != g.ctx.Version || kp.CipherSuite != g.cs {
			return nil, nil, false, fmt.Errorf("Add of a key package of version %d, %v", kp.Version, kp.CipherSuite)
		}
		if err := kp.Verify(); err != nil {
			return nil, nil, false, err
		}
		leaf := kp.LeafNode
		joiners = append(joiners, joiner{leaf: tree.AddLeaf(&leaf), kp: kp})
	}
	return joiners, exts, pathRequired, nil
}

// pskIDs returns the pre-shared keys the PreSharedKey proposals of a
// commit inject, in the commit's order.
func pskIDs(props []appliedProposal) []mls.PreSharedKeyID {
	var ids []mls.PreSharedKeyID
	for _, p := range props {
		if p.proposal.Type == mls.ProposalPSK {
			ids = append(ids, *p.proposal.PSK)
		}
	}
	return ids
}

// joinerLeaves returns the leaf indices of joiners.
func joinerLeaves(joiners []joiner) []uint32 {
	leaves := make([]uint32, len(joiners))
	for i, j := range joiners {
		leaves[i] = j.leaf
	}
	return leaves
}

// commitResult is a commit the member made: its message, the Welcome for
// the members it adds (nil if none) and the group of the next epoch,
// which the member installs once the commit is accepted.
type commitResult struct {
	message *mls.MLSMessage
	welcome *mls.Welcome
	next    *group
}

// commit makes a commit of the proposals refs names (from cache) and, if
// they need it or forcePath is set, a path (RFC 9420 section 12.4.2). The
// Welcome carries the ratchet tree inline.
func (g *group) commit(refs [][]byte, cache []*cachedProposal, forcePath bool) (*commitResult, error) {
	c := &mls.Commit{Proposals: make([]mls.ProposalOrRef, len(refs))}
	for i, r := range refs {
		c.Proposals[i].Ref = r
	}
	props, err := resolve(c, g.self(), cache)
	if err != nil {
		return nil, err
	}
	tree := g.tree.Clone()
	priv := g.priv.Clone()
	joiners, exts, pathRequired, err := g.apply(tree, props, g.self())
	if err != nil {
		return nil, err
	}
	if len(pskIDs(props)) > 0 {
		return nil, fmt.Errorf("%w: a commit of pre-shared keys", ErrUnsupported)
	}
	ctx := g.ctx
	ctx.Epoch++
	if exts != nil {
		ctx.Extensions = exts
	}
	var commitSecret []byte
	var secrets *mls.PathSecrets
	if pathRequired || forcePath {
		if c.Path, secrets, err = tree.CreateUpdatePath(g.cs, priv, g.sig, ctx, joinerLeaves(joiners)); err != nil {
			return nil, err
		}
		commitSecret = secrets.CommitSecret
	}
	ctx.TreeHash = tree.TreeHash(g.cs)

	pm := &mls.PublicMessage{Content: mls.FramedContent{
		GroupID:           g.ctx.GroupID,
		Epoch:             g.ctx.Epoch,
		Sender:            mls.Sender{Type: mls.SenderMember, Index: g.self()},
		AuthenticatedData: []byte{},
		ContentType:       mls.ContentCommit,
		Commit:            c,
	}}
	ac := pm.AuthenticatedContent()
	if err := ac.Sign(g.cs, g.sig, &g.ctx); err != nil {
		return nil, err
	}
	if ctx.ConfirmedTranscriptHash, err = g.cs.ConfirmedTranscriptHash(g.interim, ac); err != nil {
		return nil, err
	}
	next := &group{cs: g.cs, ctx: ctx, tree: tree, priv: priv, sig: g.sig}
	if next.secrets, err = g.cs.KeySchedule(g.secrets.InitSecret, commitSecret, nil, &next.ctx); err != nil {
		return nil, err
	}
	pm.Auth = ac.Auth
	pm.Auth.ConfirmationTag = next.secrets.ConfirmationTag(ctx.ConfirmedTranscriptHash)
	if err := pm.SetMembershipTag(g.cs, g.secrets.MembershipKey, &g.ctx); err != nil {
		return nil, err
	}
	if next.interim, err = g.cs.InterimTranscriptHash(ctx.ConfirmedTranscriptHash, pm.Auth.ConfirmationTag); err != nil {
		return nil, err
	}
	res := &commitResult{
		message: &mls.MLSMessage{Version: mls.MLS10, WireFormat: mls.WireFormatPublicMessage, PublicMessage: pm},
		next:    next,
	}
	if len(joiners) == 0 {
		return res, nil
	}
	treeBytes, err := tree.Marshal()
	if err != nil {
		return nil, err
	}
	gi := &mls.GroupInfo{
		GroupContext:    next.ctx,
		Extensions:      []mls.Extension{{Type: mls.ExtRatchetTree, Data: treeBytes}},
		ConfirmationTag: pm.Auth.ConfirmationTag,
		Signer:          g.self(),
	}
	if err := gi.Sign(g.sig); err != nil {
		return nil, err
	}
	members := make([]mls.NewMember, len(joiners))
	for i, j := range joiners {
		members[i].KeyPackage = j.kp
		if secrets != nil {
			members[i].PathSecret = secrets.For(j.leaf)
		}
	}
	if res.welcome, err = mls.NewWelcome(g.cs, next.secrets.JoinerSecret, gi, members); err != nil {
		return nil, err
	}
	return res, nil
}

// errSelfRemoved is returned by processCommit when the commit removes the
// member itself.
var errSelfRemoved = fmt.Errorf("own leaf removed")

// processCommit processes another member's commit (RFC 9420 section
// 12.4.2): it checks the framing, membership tag and signature, applies
// the proposals (from cache for those by reference), merges and decrypts
// the path, runs the key schedule and checks the confirmation tag. It
// returns the group of the next epoch and the commit's resolved
// proposals; errSelfRemoved if the commit removes the member.
func (g *group) processCommit(pm *mls.PublicMessage, cache []*cachedProposal) (*group, []appliedProposal, error) {
	c := &pm.Content
	if c.ContentType != mls.ContentCommit {
		return nil, nil, fmt.Errorf("content type %d, not a commit", c.ContentType)
	}
	if !bytes.Equal(c.GroupID, g.ctx.GroupID) {
		return nil, nil, fmt.Errorf("group %x, not %x", c.GroupID, g.ctx.GroupID)
	}
	if c.Epoch != g.ctx.Epoch {
		return nil, nil, fmt.Errorf("commit of epoch %d", c.Epoch)
	}
	switch c.Sender.Type {
	case mls.SenderMember:
	case mls.SenderNewMemberCommit:
		return nil, nil, fmt.Errorf("%w: external commit", ErrUnsupported)
	default:
		return nil, nil, fmt.Errorf("commit from sender type %d", c.Sender.Type)
	}
	sender := c.Sender.Index
	senderLeaf := g.tree.Leaf(sender)
	if senderLeaf == nil {
		return nil, nil, fmt.Errorf("committer leaf %d is blank", sender)
	}
	if sender == g.self() {
		return nil, nil, fmt.Errorf("a commit of the member's own leaf %d that it did not make", sender)
	}
	if err := pm.VerifyMembershipTag(g.cs, g.secrets.MembershipKey, &g.ctx); err != nil {
		return nil, nil, err
	}
	ac := pm.AuthenticatedContent()
	if err := ac.Verify(g.cs, senderLeaf.SignatureKey, &g.ctx); err != nil {
		return nil, nil, err
	}
	props, err := resolve(c.Commit, sender, cache)
	if err != nil {
		return nil, nil, err
	}
	tree := g.tree.Clone()
	priv := g.priv.Clone()
	joiners, exts, pathRequired, err := g.apply(tree, props, sender)
	if err != nil {
		return nil, nil, err
	}
	if tree.Leaf(g.self()) == nil {
		return nil, props, errSelfRemoved
	}
	ctx := g.ctx
	ctx.Epoch++
	if exts != nil {
		ctx.Extensions = exts
	}
	var commitSecret []byte
	switch path := c.Commit.Path; {
	case path != nil:
		if err := tree.MergeUpdatePath(g.cs, sender, path, g.ctx.GroupID); err != nil {
			return nil, nil, err
		}
		if _, commitSecret, err = tree.DecryptUpdatePath(g.cs, priv, sender, path, ctx, joinerLeaves(joiners)); err != nil {
			return nil, nil, err
		}
	case pathRequired:
		return nil, nil, fmt.Errorf("no path in a commit whose proposals need one")
	}
	ctx.TreeHash = tree.TreeHash(g.cs)
	if ctx.ConfirmedTranscriptHash, err = g.cs.ConfirmedTranscriptHash(g.interim, ac); err != nil {
		return nil, nil, err
	}
	var pskSecret []byte
	if ids := pskIDs(props); len(ids) > 0 {
		if pskSecret, err = g.psks.Secret(g.cs, ids); err != nil {
			return nil, nil, err
		}
	}
	next := &group{cs: g.cs, ctx: ctx, tree: tree, priv: priv, sig: g.sig, psks: g.psks}
	if next.secrets, err = g.cs.KeySchedule(g.secrets.InitSecret, commitSecret, pskSecret, &next.ctx); err != nil {
		return nil, nil, err
	}
	if err := next.secrets.VerifyConfirmationTag(ctx.ConfirmedTranscriptHash, pm.Auth.ConfirmationTag); err != nil {
		return nil, nil, err
	}
	if next.psks != nil {
		next.psks.AddResumption(ctx.GroupID, ctx.Epoch, next.secrets.ResumptionPSK)
	}
	if next.interim, err = g.cs.InterimTranscriptHash(ctx.ConfirmedTranscriptHash, pm.Auth.ConfirmationTag); err != nil {
		return nil, nil, err
	}
	return next, props, nil
}

// joinGroup joins a group by a Welcome (RFC 9420 section 12.4.3.1) as the
// holder of kp, whose init, leaf encryption and signing private keys are
// initKey, leafKey and sig. The ratchet tree comes from the group info's
// ratchet_tree extension, or is tree when given out of band. It checks the
// tree, the group info's signature and confirmation tag, and derives the
// private keys of the path above the member from the path secret.
func joinGroup(wl *mls.Welcome, kp *mls.KeyPackage, initKey, leafKey *mls.HPKEKey, sig *mls.SigningKey, tree *mls.RatchetTree) (*group, error) {
	cs := wl.CipherSuite
	gs, gi, err := wl.Open(kp, initKey)
	if errors.Is(err, mls.ErrUnsupportedSuite) && cs.Supported() {
		return nil, fmt.Errorf("%w: pre-shared keys in the welcome (%w)", ErrUnsupported, err)
	}
	if err != nil {
		return nil, err
	}
	if len(gs.PSKs) > 0 {
		return nil, fmt.Errorf("%w: welcome with pre-shared keys", ErrUnsupported)
	}
	return joinOpened(cs, gs, gi, nil, kp, leafKey, sig, tree)
}

// joinOpened joins by the opened secrets and group info of a Welcome,
// pskSecret being the PSK secret of its pre-shared keys (nil for none).
func joinOpened(cs mls.CipherSuite, gs *mls.GroupSecrets, gi *mls.GroupInfo, pskSecret []byte, kp *mls.KeyPackage, leafKey *mls.HPKEKey, sig *mls.SigningKey, tree *mls.RatchetTree) (*group, error) {
	var err error
	ctx := gi.GroupContext
	if ctx.CipherSuite != cs || ctx.Version != mls.MLS10 {
		return nil, fmt.Errorf("group of version %d, %v in a welcome of %v", ctx.Version, ctx.CipherSuite, cs)
	}
	if data, ok := gi.Extension(mls.ExtRatchetTree); ok {
		tree = new(mls.RatchetTree)
		if err := tree.Unmarshal(data); err != nil {
			return nil, err
		}
	}
	if tree == nil {
		return nil, fmt.Errorf("no ratchet tree in the welcome's group info")
	}
	if err := tree.Validate(cs, ctx.GroupID); err != nil {
		return nil, err
	}
	if !bytes.Equal(tree.TreeHash(cs), ctx.TreeHash) {
		return nil, fmt.Errorf("the ratchet tree's hash is not the group context's")
	}
	signer := tree.Leaf(gi.Signer)
	if signer == nil {
		return nil, fmt.Errorf("group info signer leaf %d is blank", gi.Signer)
	}
	if err := gi.Verify(signer.SignatureKey); err != nil {
		return nil, err
	}
	own, err := kp.LeafNode.Marshal()
	if err != nil {
		return nil, err
	}
	self := uint32(0)
	for ; self < tree.NumLeaves(); self++ {
		if l := tree.Leaf(self); l != nil {
			if b, err := l.Marshal(); err == nil && bytes.Equal(b, own) {
				break
			}
		}
	}
	if self == tree.NumLeaves() {
		return nil, fmt.Errorf("the key package's leaf is not in the tree")
	}
	priv := mls.NewPrivateTree(self, leafKey)
	if gs.PathSecret != nil {
		if self == gi.Signer {
			return nil, fmt.Errorf("a path secret for the signer's own leaf")
		}
		x := commonAncestor(2*self, 2*gi.Signer)
		root := treeRoot(tree.NumLeaves())
		secret := gs.PathSecret
		for {
			if tree.Nodes[x] == nil {
				return nil, fmt.Errorf("path secret for blank node %d", x)
			}
			if err := priv.SetPathSecret(cs, x, secret); err != nil {
				return nil, err
			}
			for x != root {
				x = nodeParent(x)
				if tree.Nodes[x] != nil {
					break
				}
			}
			if tree.Nodes[x] == nil || priv.Key(x) != nil {
				break
			}
			if secret, err = cs.DeriveSecret(secret, "path"); err != nil {
				return nil, err
			}
		}
	}
	if err := priv.Check(tree); err != nil {
		return nil, err
	}
	g := &group{cs: cs, ctx: ctx, tree: tree, priv: priv, sig: sig}
	if g.secrets, err = cs.FromJoinerSecret(gs.JoinerSecret, pskSecret, &g.ctx); err != nil {
		return nil, err
	}
	if err := g.secrets.VerifyConfirmationTag(ctx.ConfirmedTranscriptHash, gi.ConfirmationTag); err != nil {
		return nil, err
	}
	if g.interim, err = cs.InterimTranscriptHash(ctx.ConfirmedTranscriptHash, gi.ConfirmationTag); err != nil {
		return nil, err
	}
	return g, nil
}

// Tree math of RFC 9420 appendix C on node indices (leaf i at node 2i),
// for the walk up from a Welcome's path secret.

// nodeLevel returns the level of node x: 0 for leaves.
func nodeLevel(x uint32) uint32 { return uint32(bits.TrailingZeros32(^x)) }

// nodeParent returns the parent of node x, which is not the root.
func nodeParent(x uint32) uint32 {
	k := nodeLevel(x)
	b := (x >> (k + 1)) & 1
	return (x | 1<<k) ^ b<<(k+1)
}

// treeRoot returns the root of a tree of n leaves, n > 0.
func treeRoot(n uint32) uint32 {
	w := 2*(n-1) + 1
	return 1<<(bits.Len32(w)-1) - 1
}

// commonAncestor returns the lowest common ancestor of two different
// leaves' nodes x and y.
func commonAncestor(x, y uint32) uint32 {
	k := uint32(bits.Len32(x ^ y)) // the ancestor's level is k-1
	return x&^(1<<k-1) | (1<<(k-1) - 1)
}
