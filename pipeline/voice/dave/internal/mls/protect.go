package mls

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
)

// Message protection of RFC 9420 sections 6.2 and 6.3: PublicMessage
// (signed, and MACed under the membership key for a member) and
// PrivateMessage (signed, then encrypted with the keys of the secret
// tree, its sender hidden under the sender data key).
//
// A PrivateMessage's two encryptions:
//
//	PrivateMessageContent = content (application_data<V>, Proposal or Commit)
//	                        || FramedContentAuthData || zero padding
//	ciphertext   = AEAD.Seal(ratchet key, ratchet nonce XOR reuse_guard,
//	               PrivateMessageContent,
//	               PrivateContentAAD{group_id<V>, epoch, content_type, authenticated_data<V>})
//	encrypted_sender_data = AEAD.Seal(sender_data_key(ciphertext), sender_data_nonce(ciphertext),
//	               SenderData{uint32 leaf_index, uint32 generation, reuse_guard[4]},
//	               SenderDataAAD{group_id<V>, epoch, content_type})

// senderDataLen is the length of an encoded SenderData.
const senderDataLen = 4 + 4 + 4

// SignatureKeyFunc returns the signature public key of a message's
// sender: a member's from its leaf in the ratchet tree, an external
// sender's from the external_senders extension. It returns an error for
// a sender that has none (a blank leaf, an unknown index).
type SignatureKeyFunc func(s Sender) ([]byte, error)

// Protector protects and unprotects the messages of one epoch of a group:
// PublicMessages with the epoch's membership key, PrivateMessages with its
// sender data secret and secret tree. Unprotecting checks the group and
// epoch, the membership tag or the encryption, and the sender's
// signature; a commit's confirmation tag is the caller's to check once
// the key schedule has run. A Protector is not safe for concurrent use:
// every PrivateMessage moves a ratchet of its secret tree.
type Protector struct {
	suite            CipherSuite
	ctx              GroupContext
	membershipKey    []byte
	senderDataSecret []byte
	tree             *SecretTree
}

// NewProtector returns the protector of the epoch whose group context is
// ctx and whose secrets are secrets (of which it uses the membership key,
// sender data secret and encryption secret), in a group whose ratchet
// tree has leaves leaves.
func NewProtector(ctx *GroupContext, secrets *EpochSecrets, leaves uint32) (*Protector, error) {
	cs := ctx.CipherSuite
	if secrets.Suite != cs {
		return nil, fmt.Errorf("%w: secrets of %v for a group of %v", ErrUnsupportedSuite, secrets.Suite, cs)
	}
	tree, err := cs.NewSecretTree(secrets.EncryptionSecret, leaves)
	if err != nil {
		return nil, err
	}
	c := *ctx
	c.GroupID = slices.Clone(ctx.GroupID)
	c.TreeHash = slices.Clone(ctx.TreeHash)
	c.ConfirmedTranscriptHash = slices.Clone(ctx.ConfirmedTranscriptHash)
	c.Extensions = slices.Clone(ctx.Extensions)
	return &Protector{
		suite:            cs,
		ctx:              c,
		membershipKey:    slices.Clone(secrets.MembershipKey),
		senderDataSecret: slices.Clone(secrets.SenderDataSecret),
		tree:             tree,
	}, nil
}

// checkEpoch returns an error wrapping ErrWrongEpoch unless groupID and
// epoch are the protector's.
func (p *Protector) checkEpoch(groupID []byte, epoch uint64) error {
	if !bytes.Equal(groupID, p.ctx.GroupID) {
		return fmt.Errorf("%w: group %x, not %x", ErrWrongEpoch, groupID, p.ctx.GroupID)
	}
	if epoch != p.ctx.Epoch {
		return fmt.Errorf("%w: epoch %d, not %d", ErrWrongEpoch, epoch, p.ctx.Epoch)
	}
	return nil
}

// Sign returns content as an AuthenticatedContent sent in wire format wf,
// signed with key over the FramedContentTBS bound to the protector's
// group context. For a commit the caller sets Auth.ConfirmationTag
// before protecting it.
func (p *Protector) Sign(wf WireFormat, content *FramedContent, key *SigningKey) (*AuthenticatedContent, error) {
	ac := &AuthenticatedContent{WireFormat: wf, Content: *content}
	if err := ac.Sign(p.suite, key, &p.ctx); err != nil {
		return nil, err
	}
	return ac, nil
}

// checkContent checks what both wire formats ask of content before it is
// sent: the protector's group and epoch, a known content type with its
// field set, and a confirmation tag on a commit.
func (p *Protector) checkContent(ac *AuthenticatedContent, wf WireFormat) error {
	if ac.WireFormat != wf {
		return fmt.Errorf("%w: content signed for wire format %d, sent as %d", ErrMalformed, ac.WireFormat, wf)
	}
	c := &ac.Content
	if err := p.checkEpoch(c.GroupID, c.Epoch); err != nil {
		return err
	}
	switch {
	case c.ContentType == ContentApplication:
	case c.ContentType == ContentProposal && c.Proposal != nil:
	case c.ContentType == ContentCommit && c.Commit != nil:
		if len(ac.Auth.ConfirmationTag) == 0 {
			return fmt.Errorf("%w: commit without a confirmation tag", ErrMalformed)
		}
	default:
		return fmt.Errorf("%w: content type %d without its content", ErrMalformed, c.ContentType)
	}
	return nil
}

// ProtectPublic returns ac, signed for WireFormatPublicMessage, as a
// PublicMessage, with its membership tag when the sender is a member.
// Application data is never sent this way (RFC 9420 section 6.2): it
// returns an error wrapping ErrMalformed for it.
func (p *Protector) ProtectPublic(ac *AuthenticatedContent) (*PublicMessage, error) {
	if err := p.checkContent(ac, WireFormatPublicMessage); err != nil {
		return nil, err
	}
	if ac.Content.ContentType == ContentApplication {
		return nil, fmt.Errorf("%w: application data in a PublicMessage", ErrMalformed)
	}
	pm := &PublicMessage{Content: ac.Content, Auth: ac.Auth}
	if ac.Content.Sender.Type == SenderMember {
		if err := pm.SetMembershipTag(p.suite, p.membershipKey, &p.ctx); err != nil {
			return nil, err
		}
	}
	return pm, nil
}

// UnprotectPublic checks a received PublicMessage and returns its
// content: the protector's group and epoch (ErrWrongEpoch), not
// application data (ErrMalformed), the membership tag of a member sender
// (ErrBadMAC) and the signature with the key key gives for the sender
// (ErrBadSignature).
func (p *Protector) UnprotectPublic(pm *PublicMessage, key SignatureKeyFunc) (*AuthenticatedContent, error) {
	c := &pm.Content
	if err := p.checkEpoch(c.GroupID, c.Epoch); err != nil {
		return nil, err
	}
	if c.ContentType == ContentApplication {
		return nil, fmt.Errorf("%w: application data in a PublicMessage", ErrMalformed)
	}
	if c.Sender.Type == SenderMember {
		if err := pm.VerifyMembershipTag(p.suite, p.membershipKey, &p.ctx); err != nil {
			return nil, err
		}
	}
	ac := pm.AuthenticatedContent()
	if err := p.verify(ac, key); err != nil {
		return nil, err
	}
	return ac, nil
}

// verify checks ac's signature with the key key gives for its sender.
func (p *Protector) verify(ac *AuthenticatedContent, key SignatureKeyFunc) error {
	pub, err := key(ac.Content.Sender)
	if err != nil {
		return fmt.Errorf("signature key of sender %+v: %w", ac.Content.Sender, err)
	}
	return ac.Verify(p.suite, pub, &p.ctx)
}

// ratchetOf returns the ratchet whose keys encrypt content of type ct.
func ratchetOf(ct ContentType) RatchetType {
	if ct == ContentApplication {
		return ApplicationRatchet
	}
	return HandshakeRatchet
}

// ProtectPrivate encrypts ac, signed for WireFormatPrivateMessage by a
// member, as a PrivateMessage with padding zero bytes of padding, under
// the next key of the sender's handshake ratchet (proposals, commits) or
// application ratchet, with a random reuse guard.
func (p *Protector) ProtectPrivate(ac *AuthenticatedContent, padding int) (*PrivateMessage, error) {
	if err := p.checkContent(ac, WireFormatPrivateMessage); err != nil {
		return nil, err
	}
	c := &ac.Content
	if c.Sender.Type != SenderMember {
		return nil, fmt.Errorf("%w: PrivateMessage from sender type %d, not a member", ErrMalformed, c.Sender.Type)
	}
	if padding < 0 || padding > maxVarint {
		return nil, fmt.Errorf("%w: %d bytes of padding", ErrMalformed, padding)
	}
	w := writer{}
	switch c.ContentType {
	case ContentApplication:
		w.opaque(c.ApplicationData)
	case ContentProposal:
		c.Proposal.encode(&w)
	case ContentCommit:
		c.Commit.encode(&w)
	}
	ac.Auth.encode(&w, c.ContentType)
	if w.err != nil {
		return nil, w.err
	}
	w.raw(make([]byte, padding))
	gen, key, nonce, err := p.tree.Next(c.Sender.Index, ratchetOf(c.ContentType))
	if err != nil {
		return nil, err
	}
	var guard [4]byte
	if _, err := rand.Read(guard[:]); err != nil {
		return nil, err
	}
	return p.seal(c, w.b, gen, guard, key, nonce)
}

// seal encrypts the encoded PrivateMessageContent plaintext of the
// content whose header (group, epoch, sender, authenticated data,
// content type) is c, as generation gen of the sender's ratchet whose
// key and nonce are key and nonce.
func (p *Protector) seal(c *FramedContent, plaintext []byte, gen uint32, guard [4]byte, key, nonce []byte) (*PrivateMessage, error) {
	m := &PrivateMessage{
		GroupID:           slices.Clone(c.GroupID),
		Epoch:             c.Epoch,
		ContentType:       c.ContentType,
		AuthenticatedData: slices.Clone(c.AuthenticatedData),
	}
	if m.AuthenticatedData == nil {
		m.AuthenticatedData = []byte{}
	}
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	aad, err := m.contentAAD()
	if err != nil {
		return nil, err
	}
	m.Ciphertext = aead.Seal(nil, guarded(nonce, guard), plaintext, aad)

	sdKey, sdNonce, err := p.suite.SenderDataKey(p.senderDataSecret, m.Ciphertext)
	if err != nil {
		return nil, err
	}
	if aead, err = newAEAD(sdKey); err != nil {
		return nil, err
	}
	sd := binary.BigEndian.AppendUint32(nil, c.Sender.Index)
	sd = binary.BigEndian.AppendUint32(sd, gen)
	sd = append(sd, guard[:]...)
	sdAAD, err := m.senderDataAAD()
	if err != nil {
		return nil, err
	}
	m.EncryptedSenderData = aead.Seal(nil, sdNonce, sd, sdAAD)
	return m, nil
}

// UnprotectPrivate decrypts a received PrivateMessage and returns its
// content, checked: the protector's group and epoch (ErrWrongEpoch), the
// sender data and content encryptions (ErrDecrypt), a sender leaf in the
// tree and a generation its ratchet can give (ErrNotFound,
// ErrGeneration), the content's encoding with its padding all zero
// (ErrMalformed) and the sender's signature with the key key gives for it
// (ErrBadSignature). The ratchet moves, and the key is deleted, only when
// all of it holds: a message that fails leaves the protector as it was.
func (p *Protector) UnprotectPrivate(m *PrivateMessage, key SignatureKeyFunc) (*AuthenticatedContent, error) {
	if err := p.checkEpoch(m.GroupID, m.Epoch); err != nil {
		return nil, err
	}
	switch m.ContentType {
	case ContentApplication, ContentProposal, ContentCommit:
	default:
		return nil, fmt.Errorf("%w: private_message.content_type: unknown type %d", ErrMalformed, m.ContentType)
	}

	sdKey, sdNonce, err := p.suite.SenderDataKey(p.senderDataSecret, m.Ciphertext)
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(sdKey)
	if err != nil {
		return nil, err
	}
	sdAAD, err := m.senderDataAAD()
	if err != nil {
		return nil, err
	}
	sd, err := aead.Open(nil, sdNonce, m.EncryptedSenderData, sdAAD)
	if err != nil {
		return nil, fmt.Errorf("%w: sender data: %v", ErrDecrypt, err)
	}
	if len(sd) != senderDataLen {
		return nil, fmt.Errorf("%w: sender data of %d bytes, not %d", ErrMalformed, len(sd), senderDataLen)
	}
	leaf := binary.BigEndian.Uint32(sd[0:4])
	gen := binary.BigEndian.Uint32(sd[4:8])
	guard := [4]byte(sd[8:12])

	k, consume, err := p.tree.key(leaf, ratchetOf(m.ContentType), gen)
	if err != nil {
		return nil, err
	}
	if aead, err = newAEAD(k.key); err != nil {
		return nil, err
	}
	aad, err := m.contentAAD()
	if err != nil {
		return nil, err
	}
	pt, err := aead.Open(nil, guarded(k.nonce, guard), m.Ciphertext, aad)
	if err != nil {
		return nil, fmt.Errorf("%w: content of leaf %d generation %d: %v", ErrDecrypt, leaf, gen, err)
	}

	ac := &AuthenticatedContent{
		WireFormat: WireFormatPrivateMessage,
		Content: FramedContent{
			GroupID:           m.GroupID,
			Epoch:             m.Epoch,
			Sender:            Sender{Type: SenderMember, Index: leaf},
			AuthenticatedData: m.AuthenticatedData,
			ContentType:       m.ContentType,
		},
	}
	if err := ac.decodePrivateContent(pt); err != nil {
		return nil, err
	}
	if err := p.verify(ac, key); err != nil {
		return nil, err
	}
	consume()
	return ac, nil
}

// decodePrivateContent decodes a PrivateMessageContent into a's content
// and auth, a.Content.ContentType saying which content it holds; the
// padding after them must be all zero.
func (a *AuthenticatedContent) decodePrivateContent(pt []byte) error {
	r := reader{b: pt}
	c := &a.Content
	switch c.ContentType {
	case ContentApplication:
		c.ApplicationData = r.opaque("private_message_content.application_data")
	case ContentProposal:
		c.Proposal = new(Proposal)
		c.Proposal.decode(&r)
	case ContentCommit:
		c.Commit = new(Commit)
		c.Commit.decode(&r)
	}
	a.Auth.decode(&r, c.ContentType)
	if r.err != nil {
		return r.err
	}
	if i := slices.IndexFunc(r.b, func(b byte) bool { return b != 0 }); i >= 0 {
		return fmt.Errorf("%w: private_message_content.padding: byte %d of %d is %#02x, not zero", ErrMalformed, i, len(r.b), r.b[i])
	}
	return nil
}

// contentAAD returns the PrivateContentAAD of the message.
func (m *PrivateMessage) contentAAD() ([]byte, error) {
	w := writer{}
	w.opaque(m.GroupID)
	w.u64(m.Epoch)
	w.u8(uint8(m.ContentType))
	w.opaque(m.AuthenticatedData)
	return w.b, w.err
}

// senderDataAAD returns the SenderDataAAD of the message.
func (m *PrivateMessage) senderDataAAD() ([]byte, error) {
	w := writer{}
	w.opaque(m.GroupID)
	w.u64(m.Epoch)
	w.u8(uint8(m.ContentType))
	return w.b, w.err
}

// guarded returns nonce with its first four bytes XORed with the reuse
// guard.
func guarded(nonce []byte, guard [4]byte) []byte {
	n := slices.Clone(nonce)
	for i := range guard {
		n[i] ^= guard[i]
	}
	return n
}

// newAEAD returns the suites' AEAD, AES-128-GCM, under key.
func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	return cipher.NewGCM(block)
}
