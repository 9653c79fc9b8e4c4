package mls

import "fmt"

// Wire structures of RFC 9420 sections 6 (framing), 7.6 (UpdatePath),
// 12.1 (proposals), 12.4 (Commit, GroupInfo, Welcome).

// ProposalType names a Proposal.
type ProposalType uint16

// Proposal types of RFC 9420 section 17.4.
const (
	ProposalAdd                    ProposalType = 1
	ProposalUpdate                 ProposalType = 2
	ProposalRemove                 ProposalType = 3
	ProposalPSK                    ProposalType = 4
	ProposalReInit                 ProposalType = 5
	ProposalExternalInit           ProposalType = 6
	ProposalGroupContextExtensions ProposalType = 7
)

// PSKType says what a pre-shared key is.
type PSKType uint8

// Pre-shared key types of RFC 9420 section 8.4.
const (
	PSKExternal   PSKType = 1
	PSKResumption PSKType = 2
)

// PreSharedKeyID names a pre-shared key (RFC 9420 section 8.4), with
// the nonce that makes each use of it unique. DAVE uses none.
type PreSharedKeyID struct {
	Type PSKType
	// ID is the id of an external PSK.
	ID []byte
	// Usage, GroupID and Epoch name a resumption PSK.
	Usage   ResumptionUsage
	GroupID []byte
	Epoch   uint64
	Nonce   []byte
}

func (p *PreSharedKeyID) encode(w *writer) {
	w.u8(uint8(p.Type))
	switch p.Type {
	case PSKExternal:
		w.opaque(p.ID)
	case PSKResumption:
		w.u8(uint8(p.Usage))
		w.opaque(p.GroupID)
		w.u64(p.Epoch)
	}
	w.opaque(p.Nonce)
}

func (p *PreSharedKeyID) decode(r *reader) {
	p.Type = PSKType(r.u8("psk_id.psktype"))
	switch p.Type {
	case PSKExternal:
		p.ID = r.opaque("psk_id.psk_id")
	case PSKResumption:
		p.Usage = ResumptionUsage(r.u8("psk_id.usage"))
		p.GroupID = r.opaque("psk_id.psk_group_id")
		p.Epoch = r.u64("psk_id.psk_epoch")
	default:
		r.fail("psk_id.psktype", "unknown type %d", p.Type)
	}
	p.Nonce = r.opaque("psk_id.psk_nonce")
}

// Proposal is a proposed change to a group (RFC 9420 section 12.1). The
// field that matches Type is set.
type Proposal struct {
	Type ProposalType
	// Add: the key package of the client to add.
	KeyPackage *KeyPackage
	// Update: the sender's new leaf node.
	LeafNode *LeafNode
	// Remove: the leaf index of the member to remove.
	Removed uint32
	// PreSharedKey: the PSK to inject.
	PSK *PreSharedKeyID
	// ReInit: the parameters of the new group.
	ReInit *ReInit
	// ExternalInit: the KEM output to the group's external key.
	KEMOutput []byte
	// GroupContextExtensions: the group's new extensions.
	Extensions []Extension
}

// ReInit is the content of a ReInit proposal.
type ReInit struct {
	GroupID     []byte
	Version     ProtocolVersion
	CipherSuite CipherSuite
	Extensions  []Extension
}

// Marshal returns the proposal's encoding.
func (p *Proposal) Marshal() ([]byte, error) { return marshal(p) }

// Unmarshal decodes b, which must hold exactly one proposal.
func (p *Proposal) Unmarshal(b []byte) error { return unmarshal(b, p, "Proposal") }

func (p *Proposal) encode(w *writer) {
	w.u16(uint16(p.Type))
	p.encodeBody(w)
}

// encodeBody writes the proposal's content without its type: the Add,
// Update, Remove... structure.
func (p *Proposal) encodeBody(w *writer) {
	switch p.Type {
	case ProposalAdd:
		p.KeyPackage.encode(w)
	case ProposalUpdate:
		p.LeafNode.encode(w)
	case ProposalRemove:
		w.u32(p.Removed)
	case ProposalPSK:
		p.PSK.encode(w)
	case ProposalReInit:
		w.opaque(p.ReInit.GroupID)
		w.u16(uint16(p.ReInit.Version))
		w.u16(uint16(p.ReInit.CipherSuite))
		encodeExtensions(w, p.ReInit.Extensions)
	case ProposalExternalInit:
		w.opaque(p.KEMOutput)
	case ProposalGroupContextExtensions:
		encodeExtensions(w, p.Extensions)
	default:
		if w.err == nil {
			w.err = fmt.Errorf("%w: proposal type %d", ErrMalformed, p.Type)
		}
	}
}

func (p *Proposal) decode(r *reader) {
	p.Type = ProposalType(r.u16("proposal.proposal_type"))
	if r.err != nil {
		return
	}
	p.decodeBody(r)
}

func (p *Proposal) decodeBody(r *reader) {
	switch p.Type {
	case ProposalAdd:
		p.KeyPackage = new(KeyPackage)
		p.KeyPackage.decode(r)
	case ProposalUpdate:
		p.LeafNode = new(LeafNode)
		p.LeafNode.decode(r)
	case ProposalRemove:
		p.Removed = r.u32("remove.removed")
	case ProposalPSK:
		p.PSK = new(PreSharedKeyID)
		p.PSK.decode(r)
	case ProposalReInit:
		p.ReInit = &ReInit{
			GroupID:     r.opaque("reinit.group_id"),
			Version:     ProtocolVersion(r.u16("reinit.version")),
			CipherSuite: CipherSuite(r.u16("reinit.cipher_suite")),
		}
		p.ReInit.Extensions = decodeExtensions(r, "reinit.extensions")
	case ProposalExternalInit:
		p.KEMOutput = r.opaque("external_init.kem_output")
	case ProposalGroupContextExtensions:
		p.Extensions = decodeExtensions(r, "group_context_extensions.extensions")
	default:
		r.fail("proposal.proposal_type", "unknown type %d", p.Type)
	}
}

// MarshalBody returns the encoding of the proposal's content alone (the
// Add, Update, Remove... structure, without the proposal type).
func (p *Proposal) MarshalBody() ([]byte, error) {
	w := writer{}
	p.encodeBody(&w)
	return w.b, w.err
}

// UnmarshalBody decodes b as the content of a proposal of type t.
func (p *Proposal) UnmarshalBody(t ProposalType, b []byte) error {
	*p = Proposal{Type: t}
	return unmarshal(b, decodeFunc(p.decodeBody), "proposal body")
}

// decodeFunc adapts a function to the decoder interface.
type decodeFunc func(r *reader)

func (f decodeFunc) decode(r *reader) { f(r) }

// ProposalOrRef is an entry of a Commit's proposal list: a proposal by
// value, or by reference (the ProposalRef of a proposal sent before).
// Exactly one field is set.
type ProposalOrRef struct {
	Proposal *Proposal
	Ref      []byte
}

func (p *ProposalOrRef) encode(w *writer) {
	if p.Proposal != nil {
		w.u8(1)
		p.Proposal.encode(w)
		return
	}
	w.u8(2)
	w.opaque(p.Ref)
}

func (p *ProposalOrRef) decode(r *reader) {
	switch t := r.u8("proposal_or_ref.type"); {
	case r.err != nil:
	case t == 1:
		p.Proposal = new(Proposal)
		p.Proposal.decode(r)
	case t == 2:
		p.Ref = r.opaque("proposal_or_ref.reference")
	default:
		r.fail("proposal_or_ref.type", "unknown type %d", t)
	}
}

// HPKECiphertext is the output of EncryptWithLabel.
type HPKECiphertext struct {
	KEMOutput  []byte
	Ciphertext []byte
}

func (c *HPKECiphertext) encode(w *writer) {
	w.opaque(c.KEMOutput)
	w.opaque(c.Ciphertext)
}

func (c *HPKECiphertext) decode(r *reader) {
	c.KEMOutput = r.opaque("hpke_ciphertext.kem_output")
	c.Ciphertext = r.opaque("hpke_ciphertext.ciphertext")
}

// UpdatePathNode is a node of an UpdatePath: the new public key of a node
// on the committer's filtered direct path, and its path secret encrypted
// to each node of the resolution of the copath child.
type UpdatePathNode struct {
	EncryptionKey       []byte
	EncryptedPathSecret []HPKECiphertext
}

// UpdatePath is the committer's new leaf and path (RFC 9420 section 7.6).
type UpdatePath struct {
	LeafNode LeafNode
	Nodes    []UpdatePathNode
}

// Marshal returns the update path's encoding.
func (u *UpdatePath) Marshal() ([]byte, error) { return marshal(u) }

// Unmarshal decodes b, which must hold exactly one update path.
func (u *UpdatePath) Unmarshal(b []byte) error { return unmarshal(b, u, "UpdatePath") }

func (u *UpdatePath) encode(w *writer) {
	u.LeafNode.encode(w)
	w.vector(func(w *writer) {
		for i := range u.Nodes {
			n := &u.Nodes[i]
			w.opaque(n.EncryptionKey)
			w.vector(func(w *writer) {
				for j := range n.EncryptedPathSecret {
					n.EncryptedPathSecret[j].encode(w)
				}
			})
		}
	})
}

func (u *UpdatePath) decode(r *reader) {
	u.LeafNode.decode(r)
	u.Nodes = []UpdatePathNode{}
	r.vector("update_path.nodes", func(r *reader) {
		n := UpdatePathNode{
			EncryptionKey:       r.opaque("update_path_node.encryption_key"),
			EncryptedPathSecret: []HPKECiphertext{},
		}
		r.vector("update_path_node.encrypted_path_secret", func(r *reader) {
			var c HPKECiphertext
			c.decode(r)
			n.EncryptedPathSecret = append(n.EncryptedPathSecret, c)
		})
		u.Nodes = append(u.Nodes, n)
	})
}

// Commit applies proposals and, when Path is set, refreshes the
// committer's path (RFC 9420 section 12.4).
type Commit struct {
	Proposals []ProposalOrRef
	Path      *UpdatePath
}

// Marshal returns the commit's encoding.
func (c *Commit) Marshal() ([]byte, error) { return marshal(c) }

// Unmarshal decodes b, which must hold exactly one commit.
func (c *Commit) Unmarshal(b []byte) error { return unmarshal(b, c, "Commit") }

func (c *Commit) encode(w *writer) {
	w.vector(func(w *writer) {
		for i := range c.Proposals {
			c.Proposals[i].encode(w)
		}
	})
	w.optional(c.Path != nil, func(w *writer) { c.Path.encode(w) })
}

func (c *Commit) decode(r *reader) {
	c.Proposals = []ProposalOrRef{}
	r.vector("commit.proposals", func(r *reader) {
		var p ProposalOrRef
		p.decode(r)
		c.Proposals = append(c.Proposals, p)
	})
	if r.optional("commit.path") {
		c.Path = new(UpdatePath)
		c.Path.decode(r)
	}
}

// SenderType says who sent a message.
type SenderType uint8

// Sender types of RFC 9420 section 6.
const (
	SenderMember            SenderType = 1
	SenderExternal          SenderType = 2
	SenderNewMemberProposal SenderType = 3
	SenderNewMemberCommit   SenderType = 4
)

// Sender is the sender of a message: a member by leaf index, an external
// sender by its index in the external_senders extension, or a new member.
type Sender struct {
	Type SenderType
	// Index is the leaf index of a member or the index of an external
	// sender.
	Index uint32
}

func (s *Sender) encode(w *writer) {
	w.u8(uint8(s.Type))
	if s.Type == SenderMember || s.Type == SenderExternal {
		w.u32(s.Index)
	}
}

func (s *Sender) decode(r *reader) {
	s.Type = SenderType(r.u8("sender.sender_type"))
	switch s.Type {
	case SenderMember, SenderExternal:
		s.Index = r.u32("sender.index")
	case SenderNewMemberProposal, SenderNewMemberCommit:
	default:
		r.fail("sender.sender_type", "unknown type %d", s.Type)
	}
}

// ContentType says what a FramedContent carries.
type ContentType uint8

// Content types of RFC 9420 section 6.
const (
	ContentApplication ContentType = 1
	ContentProposal    ContentType = 2
	ContentCommit      ContentType = 3
)

// WireFormat says what an MLSMessage carries.
type WireFormat uint16

// Wire formats of RFC 9420 section 17.2.
const (
	WireFormatPublicMessage  WireFormat = 1
	WireFormatPrivateMessage WireFormat = 2
	WireFormatWelcome        WireFormat = 3
	WireFormatGroupInfo      WireFormat = 4
	WireFormatKeyPackage     WireFormat = 5
)

// FramedContent is the content of a handshake or application message with
// its group, epoch and sender (RFC 9420 section 6). The field that matches
// ContentType is set.
type FramedContent struct {
	GroupID           []byte
	Epoch             uint64
	Sender            Sender
	AuthenticatedData []byte
	ContentType       ContentType
	ApplicationData   []byte
	Proposal          *Proposal
	Commit            *Commit
}

func (f *FramedContent) encode(w *writer) {
	w.opaque(f.GroupID)
	w.u64(f.Epoch)
	f.Sender.encode(w)
	w.opaque(f.AuthenticatedData)
	w.u8(uint8(f.ContentType))
	switch f.ContentType {
	case ContentApplication:
		w.opaque(f.ApplicationData)
	case ContentProposal:
		f.Proposal.encode(w)
	case ContentCommit:
		f.Commit.encode(w)
	}
}

func (f *FramedContent) decode(r *reader) {
	f.GroupID = r.opaque("content.group_id")
	f.Epoch = r.u64("content.epoch")
	f.Sender.decode(r)
	f.AuthenticatedData = r.opaque("content.authenticated_data")
	f.ContentType = ContentType(r.u8("content.content_type"))
	if r.err != nil {
		return
	}
	switch f.ContentType {
	case ContentApplication:
		f.ApplicationData = r.opaque("content.application_data")
	case ContentProposal:
		f.Proposal = new(Proposal)
		f.Proposal.decode(r)
	case ContentCommit:
		f.Commit = new(Commit)
		f.Commit.decode(r)
	default:
		r.fail("content.content_type", "unknown type %d", f.ContentType)
	}
}

// FramedContentAuthData authenticates a FramedContent: the sender's
// signature, and for a commit the confirmation tag.
type FramedContentAuthData struct {
	Signature []byte
	// ConfirmationTag is present when the content is a commit.
	ConfirmationTag []byte
}

func (a *FramedContentAuthData) encode(w *writer, ct ContentType) {
	w.opaque(a.Signature)
	if ct == ContentCommit {
		w.opaque(a.ConfirmationTag)
	}
}

func (a *FramedContentAuthData) decode(r *reader, ct ContentType) {
	a.Signature = r.opaque("auth.signature")
	if ct == ContentCommit {
		a.ConfirmationTag = r.opaque("auth.confirmation_tag")
	}
}

// AuthenticatedContent is a FramedContent with its authentication and the
// wire format it is sent in (RFC 9420 section 6). A ProposalRef is the
// RefHash of the encoding of the AuthenticatedContent that carried the
// proposal.
type AuthenticatedContent struct {
	WireFormat WireFormat
	Content    FramedContent
	Auth       FramedContentAuthData
}

// Marshal returns the authenticated content's encoding.
func (a *AuthenticatedContent) Marshal() ([]byte, error) { return marshal(a) }

// Unmarshal decodes b, which must hold exactly one authenticated content.
func (a *AuthenticatedContent) Unmarshal(b []byte) error {
	return unmarshal(b, a, "AuthenticatedContent")
}

func (a *AuthenticatedContent) encode(w *writer) {
	w.u16(uint16(a.WireFormat))
	a.Content.encode(w)
	a.Auth.encode(w, a.Content.ContentType)
}

func (a *AuthenticatedContent) decode(r *reader) {
	a.WireFormat = WireFormat(r.u16("wire_format"))
	a.Content.decode(r)
	a.Auth.decode(r, a.Content.ContentType)
}

// tbs returns the FramedContentTBS: what the sender signs. ctx is the
// group context of the epoch, bound for member and new-member-commit
// senders.
func (a *AuthenticatedContent) tbs(ctx *GroupContext) ([]byte, error) {
	w := writer{}
	w.u16(uint16(MLS10))
	w.u16(uint16(a.WireFormat))
	a.Content.encode(&w)
	if t := a.Content.Sender.Type; t == SenderMember || t == SenderNewMemberCommit {
		if ctx == nil {
			return nil, fmt.Errorf("%w: member content signed without a group context", ErrMalformed)
		}
		ctx.encode(&w)
	}
	return w.b, w.err
}

// Sign sets the signature of the content, made with key; ctx is the group
// context of the epoch (nil for an external sender).
func (a *AuthenticatedContent) Sign(cs CipherSuite, key *SigningKey, ctx *GroupContext) error {
	tbs, err := a.tbs(ctx)
	if err != nil {
		return err
	}
	a.Auth.Signature, err = cs.SignWithLabel(key, "FramedContentTBS", tbs)
	return err
}

// Verify checks the content's signature with the sender's signature
// public key pub; ctx as for Sign. It returns an error wrapping
// ErrBadSignature if it does not verify.
func (a *AuthenticatedContent) Verify(cs CipherSuite, pub []byte, ctx *GroupContext) error {
	tbs, err := a.tbs(ctx)
	if err != nil {
		return err
	}
	if err := cs.VerifyWithLabel(pub, "FramedContentTBS", tbs, a.Auth.Signature); err != nil {
		return fmt.Errorf("framed content: %w", err)
	}
	return nil
}

// Ref returns the ProposalRef of the proposal the content carries:
// RefHash("MLS 1.0 Proposal Reference") of its encoding.
func (a *AuthenticatedContent) Ref(cs CipherSuite) ([]byte, error) {
	b, err := a.Marshal()
	if err != nil {
		return nil, err
	}
	return cs.RefHash("MLS 1.0 Proposal Reference", b)
}

// PublicMessage is a signed, unencrypted handshake message (RFC 9420
// section 6.2). DAVE sends proposals and commits this way.
type PublicMessage struct {
	Content FramedContent
	Auth    FramedContentAuthData
	// MembershipTag is present when the sender is a member.
	MembershipTag []byte
}

func (p *PublicMessage) encode(w *writer) {
	p.Content.encode(w)
	p.Auth.encode(w, p.Content.ContentType)
	if p.Content.Sender.Type == SenderMember {
		w.opaque(p.MembershipTag)
	}
}

func (p *PublicMessage) decode(r *reader) {
	p.Content.decode(r)
	p.Auth.decode(r, p.Content.ContentType)
	if p.Content.Sender.Type == SenderMember {
		p.MembershipTag = r.opaque("public_message.membership_tag")
	}
}

// AuthenticatedContent returns the message's content as it is
// authenticated.
func (p *PublicMessage) AuthenticatedContent() *AuthenticatedContent {
	return &AuthenticatedContent{WireFormat: WireFormatPublicMessage, Content: p.Content, Auth: p.Auth}
}

// tbm returns the AuthenticatedContentTBM the membership tag covers.
func (p *PublicMessage) tbm(ctx *GroupContext) ([]byte, error) {
	ac := p.AuthenticatedContent()
	tbs, err := ac.tbs(ctx)
	if err != nil {
		return nil, err
	}
	w := writer{b: tbs}
	p.Auth.encode(&w, p.Content.ContentType)
	return w.b, w.err
}

// SetMembershipTag sets the membership tag: the MAC of the
// AuthenticatedContentTBM under the epoch's membership key.
func (p *PublicMessage) SetMembershipTag(cs CipherSuite, membershipKey []byte, ctx *GroupContext) error {
	tbm, err := p.tbm(ctx)
	if err != nil {
		return err
	}
	p.MembershipTag = cs.MAC(membershipKey, tbm)
	return nil
}

// VerifyMembershipTag checks the membership tag; it returns an error
// wrapping ErrBadMAC if it does not match.
func (p *PublicMessage) VerifyMembershipTag(cs CipherSuite, membershipKey []byte, ctx *GroupContext) error {
	tbm, err := p.tbm(ctx)
	if err != nil {
		return err
	}
	return cs.verifyMAC(membershipKey, tbm, p.MembershipTag, "membership tag")
}

// PrivateMessage is an encrypted message (RFC 9420 section 6.3), made
// and opened by a Protector. DAVE does not use it.
type PrivateMessage struct {
	GroupID             []byte
	Epoch               uint64
	ContentType         ContentType
	AuthenticatedData   []byte
	EncryptedSenderData []byte
	Ciphertext          []byte
}

func (p *PrivateMessage) encode(w *writer) {
	w.opaque(p.GroupID)
	w.u64(p.Epoch)
	w.u8(uint8(p.ContentType))
	w.opaque(p.AuthenticatedData)
	w.opaque(p.EncryptedSenderData)
	w.opaque(p.Ciphertext)
}

func (p *PrivateMessage) decode(r *reader) {
	p.GroupID = r.opaque("private_message.group_id")
	p.Epoch = r.u64("private_message.epoch")
	p.ContentType = ContentType(r.u8("private_message.content_type"))
	p.AuthenticatedData = r.opaque("private_message.authenticated_data")
	p.EncryptedSenderData = r.opaque("private_message.encrypted_sender_data")
	p.Ciphertext = r.opaque("private_message.ciphertext")
}

// GroupInfo is the signed public state of a group given to joiners (RFC
// 9420 section 12.4.3).
type GroupInfo struct {
	GroupContext    GroupContext
	Extensions      []Extension
	ConfirmationTag []byte
	Signer          uint32 // leaf index of the signer
	Signature       []byte
}

// Marshal returns the group info's encoding.
func (g *GroupInfo) Marshal() ([]byte, error) { return marshal(g) }

// Unmarshal decodes b, which must hold exactly one group info.
func (g *GroupInfo) Unmarshal(b []byte) error { return unmarshal(b, g, "GroupInfo") }

func (g *GroupInfo) encodeTBS(w *writer) {
	g.GroupContext.encode(w)
	encodeExtensions(w, g.Extensions)
	w.opaque(g.ConfirmationTag)
	w.u32(g.Signer)
}

func (g *GroupInfo) encode(w *writer) {
	g.encodeTBS(w)
	w.opaque(g.Signature)
}

func (g *GroupInfo) decode(r *reader) {
	g.GroupContext.decode(r)
	g.Extensions = decodeExtensions(r, "group_info.extensions")
	g.ConfirmationTag = r.opaque("group_info.confirmation_tag")
	g.Signer = r.u32("group_info.signer")
	g.Signature = r.opaque("group_info.signature")
}

// Sign sets the group info's signature ("GroupInfoTBS") with key.
func (g *GroupInfo) Sign(key *SigningKey) error {
	w := writer{}
	g.encodeTBS(&w)
	if w.err != nil {
		return w.err
	}
	var err error
	g.Signature, err = g.GroupContext.CipherSuite.SignWithLabel(key, "GroupInfoTBS", w.b)
	return err
}

// Verify checks the group info's signature with the signer's signature
// public key pub. It returns an error wrapping ErrBadSignature if it does
// not verify.
func (g *GroupInfo) Verify(pub []byte) error {
	w := writer{}
	g.encodeTBS(&w)
	if w.err != nil {
		return w.err
	}
	if err := g.GroupContext.CipherSuite.VerifyWithLabel(pub, "GroupInfoTBS", w.b, g.Signature); err != nil {
		return fmt.Errorf("group info: %w", err)
	}
	return nil
}

// Extension returns the data of the group info's extension of type t, and
// whether it has one.
func (g *GroupInfo) Extension(t ExtensionType) ([]byte, bool) {
	for _, e := range g.Extensions {
		if e.Type == t {
			return e.Data, true
		}
	}
	return nil, false
}

// GroupSecrets is what a Welcome encrypts to each new member (RFC 9420
// section 12.4.3.1).
type GroupSecrets struct {
	JoinerSecret []byte
	// PathSecret is the path secret of the common ancestor of the
	// committer and the new member, or nil.
	PathSecret []byte
	PSKs       []PreSharedKeyID
}

// Marshal returns the group secrets' encoding.
func (g *GroupSecrets) Marshal() ([]byte, error) { return marshal(g) }

// Unmarshal decodes b, which must hold exactly one GroupSecrets.
func (g *GroupSecrets) Unmarshal(b []byte) error { return unmarshal(b, g, "GroupSecrets") }

func (g *GroupSecrets) encode(w *writer) {
	w.opaque(g.JoinerSecret)
	w.optional(g.PathSecret != nil, func(w *writer) { w.opaque(g.PathSecret) })
	w.vector(func(w *writer) {
		for i := range g.PSKs {
			g.PSKs[i].encode(w)
		}
	})
}

func (g *GroupSecrets) decode(r *reader) {
	g.JoinerSecret = r.opaque("group_secrets.joiner_secret")
	if r.optional("group_secrets.path_secret") {
		g.PathSecret = r.opaque("group_secrets.path_secret")
	}
	g.PSKs = []PreSharedKeyID{}
	r.vector("group_secrets.psks", func(r *reader) {
		var p PreSharedKeyID
		p.decode(r)
		g.PSKs = append(g.PSKs, p)
	})
}

// EncryptedGroupSecrets is the GroupSecrets of one new member, encrypted
// to the init key of its key package.
type EncryptedGroupSecrets struct {
	NewMember             []byte // KeyPackageRef
	EncryptedGroupSecrets HPKECiphertext
}

// Welcome brings new members into a group (RFC 9420 section 12.4.3.1).
type Welcome struct {
	CipherSuite        CipherSuite
	Secrets            []EncryptedGroupSecrets
	EncryptedGroupInfo []byte
}

// Marshal returns the welcome's encoding.
func (wl *Welcome) Marshal() ([]byte, error) { return marshal(wl) }

// Unmarshal decodes b, which must hold exactly one welcome.
func (wl *Welcome) Unmarshal(b []byte) error { return unmarshal(b, wl, "Welcome") }

func (wl *Welcome) encode(w *writer) {
	w.u16(uint16(wl.CipherSuite))
	w.vector(func(w *writer) {
		for i := range wl.Secrets {
			w.opaque(wl.Secrets[i].NewMember)
			wl.Secrets[i].EncryptedGroupSecrets.encode(w)
		}
	})
	w.opaque(wl.EncryptedGroupInfo)
}

func (wl *Welcome) decode(r *reader) {
	wl.CipherSuite = CipherSuite(r.u16("welcome.cipher_suite"))
	wl.Secrets = []EncryptedGroupSecrets{}
	r.vector("welcome.secrets", func(r *reader) {
		var s EncryptedGroupSecrets
		s.NewMember = r.opaque("encrypted_group_secrets.new_member")
		s.EncryptedGroupSecrets.decode(r)
		wl.Secrets = append(wl.Secrets, s)
	})
	wl.EncryptedGroupInfo = r.opaque("welcome.encrypted_group_info")
}

// MLSMessage is the envelope of everything MLS sends (RFC 9420 section 6):
// the field that matches WireFormat is set.
type MLSMessage struct {
	Version        ProtocolVersion
	WireFormat     WireFormat
	PublicMessage  *PublicMessage
	PrivateMessage *PrivateMessage
	Welcome        *Welcome
	GroupInfo      *GroupInfo
	KeyPackage     *KeyPackage
}

// Marshal returns the message's encoding.
func (m *MLSMessage) Marshal() ([]byte, error) { return marshal(m) }

// Unmarshal decodes b, which must hold exactly one message.
func (m *MLSMessage) Unmarshal(b []byte) error { return unmarshal(b, m, "MLSMessage") }

// UnmarshalPrefix decodes the message at the start of b and returns the
// bytes that follow it, for payloads that carry messages back to back
// (DAVE's proposals vector, its commit followed by a Welcome). The
// returned slice aliases b.
func (m *MLSMessage) UnmarshalPrefix(b []byte) (rest []byte, err error) {
	r := reader{b: b}
	m.decode(&r)
	if r.err != nil {
		return nil, r.err
	}
	return r.b, nil
}

func (m *MLSMessage) encode(w *writer) {
	w.u16(uint16(m.Version))
	w.u16(uint16(m.WireFormat))
	switch m.WireFormat {
	case WireFormatPublicMessage:
		m.PublicMessage.encode(w)
	case WireFormatPrivateMessage:
		m.PrivateMessage.encode(w)
	case WireFormatWelcome:
		m.Welcome.encode(w)
	case WireFormatGroupInfo:
		m.GroupInfo.encode(w)
	case WireFormatKeyPackage:
		m.KeyPackage.encode(w)
	default:
		if w.err == nil {
			w.err = fmt.Errorf("%w: wire format %d", ErrMalformed, m.WireFormat)
		}
	}
}

func (m *MLSMessage) decode(r *reader) {
	m.Version = ProtocolVersion(r.u16("mls_message.version"))
	m.WireFormat = WireFormat(r.u16("mls_message.wire_format"))
	if r.err != nil {
		return
	}
	if m.Version != MLS10 {
		r.fail("mls_message.version", "unknown version %d", m.Version)
		return
	}
	switch m.WireFormat {
	case WireFormatPublicMessage:
		m.PublicMessage = new(PublicMessage)
		m.PublicMessage.decode(r)
	case WireFormatPrivateMessage:
		m.PrivateMessage = new(PrivateMessage)
		m.PrivateMessage.decode(r)
	case WireFormatWelcome:
		m.Welcome = new(Welcome)
		m.Welcome.decode(r)
	case WireFormatGroupInfo:
		m.GroupInfo = new(GroupInfo)
		m.GroupInfo.decode(r)
	case WireFormatKeyPackage:
		m.KeyPackage = new(KeyPackage)
		m.KeyPackage.decode(r)
	default:
		r.fail("mls_message.wire_format", "unknown format %d", m.WireFormat)
	}
}
