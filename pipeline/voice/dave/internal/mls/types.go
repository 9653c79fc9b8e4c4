package mls

import "fmt"

// Wire structures of RFC 9420 shared by key packages, the ratchet tree and
// group state: sections 5.3 (Credential), 7.1 and 7.2 (ParentNode,
// LeafNode), 8.1 (GroupContext), 10 (KeyPackage), 12.1.8 (ExternalSender).

// ProtocolVersion is an MLS protocol version.
type ProtocolVersion uint16

// MLS10 is the protocol version of RFC 9420.
const MLS10 ProtocolVersion = 1

// CredentialType says what a Credential carries.
type CredentialType uint16

// Credential types of RFC 9420 section 5.3.
const (
	CredentialBasic CredentialType = 1 // an application-defined identity
	CredentialX509  CredentialType = 2 // a chain of DER certificates
)

// LeafNodeSource says how a leaf node came into the tree, and so which of
// its fields are present.
type LeafNodeSource uint8

// Leaf node sources of RFC 9420 section 7.2.
const (
	SourceKeyPackage LeafNodeSource = 1 // in a KeyPackage: Lifetime present
	SourceUpdate     LeafNodeSource = 2 // in an Update proposal
	SourceCommit     LeafNodeSource = 3 // in a Commit's UpdatePath: ParentHash present
)

// ExtensionType names an Extension.
type ExtensionType uint16

// Extension types of RFC 9420 section 17.3.
const (
	ExtApplicationID        ExtensionType = 1
	ExtRatchetTree          ExtensionType = 2
	ExtRequiredCapabilities ExtensionType = 3
	ExtExternalPub          ExtensionType = 4
	ExtExternalSenders      ExtensionType = 5
)

// Extension is an extension of a group context, key package, leaf node or
// group info; its data is kept opaque.
type Extension struct {
	Type ExtensionType
	Data []byte
}

func (e *Extension) encode(w *writer) {
	w.u16(uint16(e.Type))
	w.opaque(e.Data)
}

func (e *Extension) decode(r *reader) {
	e.Type = ExtensionType(r.u16("extension_type"))
	e.Data = r.opaque("extension_data")
}

func encodeExtensions(w *writer, exts []Extension) {
	w.vector(func(w *writer) {
		for i := range exts {
			exts[i].encode(w)
		}
	})
}

func decodeExtensions(r *reader, field string) []Extension {
	exts := []Extension{}
	r.vector(field, func(r *reader) {
		var e Extension
		e.decode(r)
		exts = append(exts, e)
	})
	return exts
}

// Credential binds an identity to a signature key (RFC 9420 section 5.3).
// DAVE uses basic credentials whose identity is the user id as 8 bytes big
// endian.
type Credential struct {
	Type CredentialType
	// Identity is the identity of a basic credential.
	Identity []byte
	// Certificates is the chain of an X.509 credential, each DER.
	Certificates [][]byte
}

// Marshal returns the credential's encoding.
func (c *Credential) Marshal() ([]byte, error) { return marshal(c) }

// Unmarshal decodes b, which must hold exactly one credential.
func (c *Credential) Unmarshal(b []byte) error { return unmarshal(b, c, "Credential") }

func (c *Credential) encode(w *writer) {
	w.u16(uint16(c.Type))
	switch c.Type {
	case CredentialBasic:
		w.opaque(c.Identity)
	case CredentialX509:
		w.vector(func(w *writer) {
			for _, cert := range c.Certificates {
				w.opaque(cert)
			}
		})
	}
}

func (c *Credential) decode(r *reader) {
	c.Type = CredentialType(r.u16("credential.credential_type"))
	switch c.Type {
	case CredentialBasic:
		c.Identity = r.opaque("credential.identity")
	case CredentialX509:
		c.Certificates = [][]byte{}
		r.vector("credential.certificates", func(r *reader) {
			c.Certificates = append(c.Certificates, r.opaque("credential.cert_data"))
		})
	default:
		r.fail("credential.credential_type", "unknown type %d", c.Type)
	}
}

// Capabilities lists what a client supports (RFC 9420 section 7.2).
type Capabilities struct {
	Versions     []ProtocolVersion
	CipherSuites []CipherSuite
	Extensions   []ExtensionType
	Proposals    []ProposalType
	Credentials  []CredentialType
}

func encodeU16s[T ~uint16](w *writer, v []T) {
	w.vector(func(w *writer) {
		for _, x := range v {
			w.u16(uint16(x))
		}
	})
}

func decodeU16s[T ~uint16](r *reader, field string) []T {
	v := []T{}
	r.vector(field, func(r *reader) { v = append(v, T(r.u16(field))) })
	return v
}

func (c *Capabilities) encode(w *writer) {
	encodeU16s(w, c.Versions)
	encodeU16s(w, c.CipherSuites)
	encodeU16s(w, c.Extensions)
	encodeU16s(w, c.Proposals)
	encodeU16s(w, c.Credentials)
}

func (c *Capabilities) decode(r *reader) {
	c.Versions = decodeU16s[ProtocolVersion](r, "capabilities.versions")
	c.CipherSuites = decodeU16s[CipherSuite](r, "capabilities.cipher_suites")
	c.Extensions = decodeU16s[ExtensionType](r, "capabilities.extensions")
	c.Proposals = decodeU16s[ProposalType](r, "capabilities.proposals")
	c.Credentials = decodeU16s[CredentialType](r, "capabilities.credentials")
}

// Lifetime is the validity of a key package's leaf node, in seconds since
// the Unix epoch, both ends included.
type Lifetime struct {
	NotBefore uint64
	NotAfter  uint64
}

// LeafNode is a member's leaf in the ratchet tree, signed by the member
// (RFC 9420 section 7.2).
type LeafNode struct {
	EncryptionKey []byte // HPKE public key
	SignatureKey  []byte // signature public key
	Credential    Credential
	Capabilities  Capabilities
	Source        LeafNodeSource
	// Lifetime is present when Source is SourceKeyPackage.
	Lifetime Lifetime
	// ParentHash is present when Source is SourceCommit.
	ParentHash []byte
	Extensions []Extension
	// Signature is SignWithLabel("LeafNodeTBS") over the fields above,
	// with the group id and leaf index for the update and commit sources.
	Signature []byte
}

// Marshal returns the leaf node's encoding.
func (l *LeafNode) Marshal() ([]byte, error) { return marshal(l) }

// Unmarshal decodes b, which must hold exactly one leaf node.
func (l *LeafNode) Unmarshal(b []byte) error { return unmarshal(b, l, "LeafNode") }

func (l *LeafNode) encodeContent(w *writer) {
	w.opaque(l.EncryptionKey)
	w.opaque(l.SignatureKey)
	l.Credential.encode(w)
	l.Capabilities.encode(w)
	w.u8(uint8(l.Source))
	switch l.Source {
	case SourceKeyPackage:
		w.u64(l.Lifetime.NotBefore)
		w.u64(l.Lifetime.NotAfter)
	case SourceCommit:
		w.opaque(l.ParentHash)
	}
	encodeExtensions(w, l.Extensions)
}

func (l *LeafNode) encode(w *writer) {
	l.encodeContent(w)
	w.opaque(l.Signature)
}

// tbs returns the LeafNodeTBS: what the signature covers.
func (l *LeafNode) tbs(groupID []byte, leaf uint32) ([]byte, error) {
	w := writer{}
	l.encodeContent(&w)
	if l.Source == SourceUpdate || l.Source == SourceCommit {
		w.opaque(groupID)
		w.u32(leaf)
	}
	return w.b, w.err
}

// Sign sets the leaf node's signature with key. groupID and leaf are the
// group and the leaf's index, signed for the update and commit sources and
// ignored for a key package's leaf node.
func (l *LeafNode) Sign(cs CipherSuite, key *SigningKey, groupID []byte, leaf uint32) error {
	tbs, err := l.tbs(groupID, leaf)
	if err != nil {
		return err
	}
	l.Signature, err = cs.SignWithLabel(key, "LeafNodeTBS", tbs)
	return err
}

// Verify checks the leaf node's signature with its own signature key;
// groupID and leaf as for Sign. It returns an error wrapping
// ErrBadSignature if it does not verify.
func (l *LeafNode) Verify(cs CipherSuite, groupID []byte, leaf uint32) error {
	tbs, err := l.tbs(groupID, leaf)
	if err != nil {
		return err
	}
	if err := cs.VerifyWithLabel(l.SignatureKey, "LeafNodeTBS", tbs, l.Signature); err != nil {
		return fmt.Errorf("leaf node %d: %w", leaf, err)
	}
	return nil
}

func (l *LeafNode) decode(r *reader) {
	l.EncryptionKey = r.opaque("leaf_node.encryption_key")
	l.SignatureKey = r.opaque("leaf_node.signature_key")
	l.Credential.decode(r)
	l.Capabilities.decode(r)
	l.Source = LeafNodeSource(r.u8("leaf_node.leaf_node_source"))
	switch l.Source {
	case SourceKeyPackage:
		l.Lifetime.NotBefore = r.u64("leaf_node.lifetime.not_before")
		l.Lifetime.NotAfter = r.u64("leaf_node.lifetime.not_after")
	case SourceUpdate:
	case SourceCommit:
		l.ParentHash = r.opaque("leaf_node.parent_hash")
	default:
		r.fail("leaf_node.leaf_node_source", "unknown source %d", l.Source)
	}
	l.Extensions = decodeExtensions(r, "leaf_node.extensions")
	l.Signature = r.opaque("leaf_node.signature")
}

// ParentNode is an interior node of the ratchet tree (RFC 9420 section
// 7.1).
type ParentNode struct {
	EncryptionKey []byte // HPKE public key
	ParentHash    []byte
	// UnmergedLeaves are the leaf indices below the node added since its
	// key was set, in increasing order.
	UnmergedLeaves []uint32
}

func (p *ParentNode) encode(w *writer) {
	w.opaque(p.EncryptionKey)
	w.opaque(p.ParentHash)
	w.vector(func(w *writer) {
		for _, l := range p.UnmergedLeaves {
			w.u32(l)
		}
	})
}

func (p *ParentNode) decode(r *reader) {
	p.EncryptionKey = r.opaque("parent_node.encryption_key")
	p.ParentHash = r.opaque("parent_node.parent_hash")
	p.UnmergedLeaves = []uint32{}
	r.vector("parent_node.unmerged_leaves", func(r *reader) {
		p.UnmergedLeaves = append(p.UnmergedLeaves, r.u32("parent_node.unmerged_leaves"))
	})
}

// nodeType tags a Node on the wire.
type nodeType uint8

const (
	nodeLeaf   nodeType = 1
	nodeParent nodeType = 2
)

// Node is a non-blank node of the ratchet tree: exactly one of Leaf and
// Parent is set.
type Node struct {
	Leaf   *LeafNode
	Parent *ParentNode
}

func (n *Node) encode(w *writer) {
	if n.Leaf != nil {
		w.u8(uint8(nodeLeaf))
		n.Leaf.encode(w)
		return
	}
	w.u8(uint8(nodeParent))
	n.Parent.encode(w)
}

func (n *Node) decode(r *reader) {
	switch t := nodeType(r.u8("node.node_type")); t {
	case nodeLeaf:
		n.Leaf = new(LeafNode)
		n.Leaf.decode(r)
	case nodeParent:
		n.Parent = new(ParentNode)
		n.Parent.decode(r)
	default:
		if r.err == nil {
			r.fail("node.node_type", "unknown type %d", t)
		}
	}
}

// encryptionKey returns the node's HPKE public key.
func (n *Node) encryptionKey() []byte {
	if n.Leaf != nil {
		return n.Leaf.EncryptionKey
	}
	return n.Parent.EncryptionKey
}

// KeyPackage is a client's signed offer to be added to groups (RFC 9420
// section 10).
type KeyPackage struct {
	Version     ProtocolVersion
	CipherSuite CipherSuite
	InitKey     []byte // HPKE public key the Welcome is encrypted to
	LeafNode    LeafNode
	Extensions  []Extension
	// Signature is SignWithLabel("KeyPackageTBS") over the fields above,
	// with the leaf node's signature key.
	Signature []byte
}

// Marshal returns the key package's encoding.
func (k *KeyPackage) Marshal() ([]byte, error) { return marshal(k) }

// Unmarshal decodes b, which must hold exactly one key package.
func (k *KeyPackage) Unmarshal(b []byte) error { return unmarshal(b, k, "KeyPackage") }

func (k *KeyPackage) encodeTBS(w *writer) {
	w.u16(uint16(k.Version))
	w.u16(uint16(k.CipherSuite))
	w.opaque(k.InitKey)
	k.LeafNode.encode(w)
	encodeExtensions(w, k.Extensions)
}

func (k *KeyPackage) encode(w *writer) {
	k.encodeTBS(w)
	w.opaque(k.Signature)
}

func (k *KeyPackage) decode(r *reader) {
	k.Version = ProtocolVersion(r.u16("key_package.version"))
	k.CipherSuite = CipherSuite(r.u16("key_package.cipher_suite"))
	k.InitKey = r.opaque("key_package.init_key")
	k.LeafNode.decode(r)
	k.Extensions = decodeExtensions(r, "key_package.extensions")
	k.Signature = r.opaque("key_package.signature")
}

// Sign sets the key package's signature, and its leaf node's, with key.
func (k *KeyPackage) Sign(key *SigningKey) error {
	if err := k.LeafNode.Sign(k.CipherSuite, key, nil, 0); err != nil {
		return err
	}
	w := writer{}
	k.encodeTBS(&w)
	if w.err != nil {
		return w.err
	}
	var err error
	k.Signature, err = k.CipherSuite.SignWithLabel(key, "KeyPackageTBS", w.b)
	return err
}

// Verify checks the signatures of the key package and of its leaf node,
// and that the leaf node's source is key_package. It returns an error
// wrapping ErrBadSignature or ErrMalformed.
func (k *KeyPackage) Verify() error {
	if k.LeafNode.Source != SourceKeyPackage {
		return fmt.Errorf("%w: key package leaf node has source %d", ErrMalformed, k.LeafNode.Source)
	}
	if err := k.LeafNode.Verify(k.CipherSuite, nil, 0); err != nil {
		return err
	}
	w := writer{}
	k.encodeTBS(&w)
	if w.err != nil {
		return w.err
	}
	if err := k.CipherSuite.VerifyWithLabel(k.LeafNode.SignatureKey, "KeyPackageTBS", w.b, k.Signature); err != nil {
		return fmt.Errorf("key package: %w", err)
	}
	return nil
}

// Ref returns the key package's KeyPackageRef: RefHash("MLS 1.0 KeyPackage
// Reference") of its encoding.
func (k *KeyPackage) Ref() ([]byte, error) {
	b, err := k.Marshal()
	if err != nil {
		return nil, err
	}
	return k.CipherSuite.RefHash("MLS 1.0 KeyPackage Reference", b)
}

// ExternalSender is an entry of the external_senders group context
// extension (RFC 9420 section 12.1.8.1): a party outside the group allowed
// to send proposals, such as DAVE's voice gateway.
type ExternalSender struct {
	SignatureKey []byte
	Credential   Credential
}

func (e *ExternalSender) encode(w *writer) {
	w.opaque(e.SignatureKey)
	e.Credential.encode(w)
}

func (e *ExternalSender) decode(r *reader) {
	e.SignatureKey = r.opaque("external_sender.signature_key")
	e.Credential.decode(r)
}

// MarshalExternalSenders returns the data of an external_senders
// extension listing senders.
func MarshalExternalSenders(senders []ExternalSender) ([]byte, error) {
	w := writer{}
	w.vector(func(w *writer) {
		for i := range senders {
			senders[i].encode(w)
		}
	})
	return w.b, w.err
}

// UnmarshalExternalSenders decodes the data of an external_senders
// extension.
func UnmarshalExternalSenders(b []byte) ([]ExternalSender, error) {
	r := reader{b: b}
	senders := []ExternalSender{}
	r.vector("external_senders", func(r *reader) {
		var e ExternalSender
		e.decode(r)
		senders = append(senders, e)
	})
	if r.err == nil && len(r.b) > 0 {
		r.fail("external_senders", "%d bytes left over", len(r.b))
	}
	return senders, r.err
}

// GroupContext is the public summary of a group's state in an epoch (RFC
// 9420 section 8.1); its encoding is bound into the key schedule and into
// members' signatures.
type GroupContext struct {
	Version                 ProtocolVersion
	CipherSuite             CipherSuite
	GroupID                 []byte
	Epoch                   uint64
	TreeHash                []byte
	ConfirmedTranscriptHash []byte
	Extensions              []Extension
}

// Marshal returns the group context's encoding.
func (g *GroupContext) Marshal() ([]byte, error) { return marshal(g) }

// Unmarshal decodes b, which must hold exactly one group context.
func (g *GroupContext) Unmarshal(b []byte) error { return unmarshal(b, g, "GroupContext") }

func (g *GroupContext) encode(w *writer) {
	w.u16(uint16(g.Version))
	w.u16(uint16(g.CipherSuite))
	w.opaque(g.GroupID)
	w.u64(g.Epoch)
	w.opaque(g.TreeHash)
	w.opaque(g.ConfirmedTranscriptHash)
	encodeExtensions(w, g.Extensions)
}

func (g *GroupContext) decode(r *reader) {
	g.Version = ProtocolVersion(r.u16("group_context.version"))
	g.CipherSuite = CipherSuite(r.u16("group_context.cipher_suite"))
	g.GroupID = r.opaque("group_context.group_id")
	g.Epoch = r.u64("group_context.epoch")
	g.TreeHash = r.opaque("group_context.tree_hash")
	g.ConfirmedTranscriptHash = r.opaque("group_context.confirmed_transcript_hash")
	g.Extensions = decodeExtensions(r, "group_context.extensions")
}
