package mls

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
)

// TreeKEM: creating, merging and decrypting UpdatePaths (RFC 9420 sections
// 7.4 to 7.6).

// PrivateTree is a member's private view of the ratchet tree: the private
// keys of its leaf and of the parent nodes above it that it knows. It is
// not safe for concurrent use.
type PrivateTree struct {
	// Leaf is the member's leaf index.
	Leaf uint32
	keys map[uint32]*HPKEKey // by node index
}

// NewPrivateTree returns the private view of the member at leaf whose leaf
// encryption key is leafKey, knowing no parent node's key yet.
func NewPrivateTree(leaf uint32, leafKey *HPKEKey) *PrivateTree {
	return &PrivateTree{Leaf: leaf, keys: map[uint32]*HPKEKey{2 * leaf: leafKey}}
}

// Clone returns a copy of p whose changes leave p as it is.
func (p *PrivateTree) Clone() *PrivateTree {
	return &PrivateTree{Leaf: p.Leaf, keys: maps.Clone(p.keys)}
}

// Key returns the private key of node x, or nil if p does not hold it.
func (p *PrivateTree) Key(x uint32) *HPKEKey { return p.keys[x] }

// nodeKey derives the key pair of a node from its path secret:
// DeriveKeyPair(DeriveSecret(path_secret, "node")).
func (cs CipherSuite) nodeKey(pathSecret []byte) (*HPKEKey, error) {
	s, err := cs.DeriveSecret(pathSecret, "node")
	if err != nil {
		return nil, err
	}
	return cs.DeriveHPKEKey(s)
}

// SetPathSecret sets the private key of node x to the one derived from its
// path secret.
func (p *PrivateTree) SetPathSecret(cs CipherSuite, x uint32, pathSecret []byte) error {
	k, err := cs.nodeKey(pathSecret)
	if err != nil {
		return err
	}
	p.keys[x] = k
	return nil
}

// Check verifies that every key p holds is the private key of its node in
// t: the node is not blank and has the matching public key. It returns an
// error wrapping ErrInvalidTree if not.
func (p *PrivateTree) Check(t *RatchetTree) error {
	for x, k := range p.keys {
		if x >= uint32(len(t.Nodes)) || t.Nodes[x] == nil {
			return fmt.Errorf("%w: private key for blank node %d", ErrInvalidTree, x)
		}
		if !bytes.Equal(t.Nodes[x].encryptionKey(), k.Public()) {
			return fmt.Errorf("%w: private key of node %d does not match its public key", ErrInvalidTree, x)
		}
	}
	return nil
}

// PathSecrets are the path secrets of an UpdatePath its creator made, by
// node of its filtered direct path, and the commit secret they lead to.
type PathSecrets struct {
	CommitSecret []byte
	nodes        []uint32
	secrets      [][]byte
}

// For returns the path secret a new member at leaf must be sent in its
// Welcome: that of the lowest node of the path above the leaf, or nil if
// there is none.
func (s *PathSecrets) For(leaf uint32) []byte {
	for k, x := range s.nodes {
		if isInSubtree(x, 2*leaf) {
			return s.secrets[k]
		}
	}
	return nil
}

// provisionalContext returns the encoding of ctx with the tree hash of t:
// the context path secrets are encrypted under.
func (t *RatchetTree) provisionalContext(cs CipherSuite, ctx GroupContext) ([]byte, error) {
	ctx.TreeHash = t.TreeHash(cs)
	return ctx.Marshal()
}

// setPathParentHashes sets the parent hashes of the parent nodes of path
// (a filtered direct path, lowest first, with copath its copath children)
// from the root down, and returns the parent hash the leaf below must hold.
func (t *RatchetTree) setPathParentHashes(cs CipherSuite, path, copathNodes []uint32) []byte {
	var ph []byte
	for k := len(path) - 1; k >= 0; k-- {
		t.Nodes[path[k]].Parent.ParentHash = ph
		ph = t.parentHash(cs, path[k], copathNodes[k])
	}
	if ph == nil {
		ph = []byte{}
	}
	return ph
}

// CreateUpdatePath refreshes the path of the member priv belongs to, as a
// committer does (RFC 9420 sections 7.4 and 7.5): it blanks the member's
// direct path in t, gives each node of its filtered direct path a key
// derived from a fresh path secret, sets their parent hashes, gives the
// member's leaf a fresh encryption key and the parent hash, re-signs it
// with sigKey, and encrypts each path secret to the resolution of the
// copath child, leaving out the leaves in excluded (the members the commit
// adds). ctx is the provisional group context; its tree hash is replaced
// by that of the updated tree. t and priv are updated in place; the
// returned path secrets give the commit secret and the path secrets for
// the Welcome.
func (t *RatchetTree) CreateUpdatePath(cs CipherSuite, priv *PrivateTree, sigKey *SigningKey, ctx GroupContext, excluded []uint32) (*UpdatePath, *PathSecrets, error) {
	sender := priv.Leaf
	old := t.Leaf(sender)
	if old == nil {
		return nil, nil, fmt.Errorf("%w: leaf %d of the committer is blank", ErrNotFound, sender)
	}
	path, copathNodes := t.filteredDirectPath(sender)
	t.blankPath(sender)
	for _, x := range directPath(2*sender, t.NumLeaves()) {
		delete(priv.keys, x)
	}

	secrets := &PathSecrets{nodes: path}
	secret := make([]byte, hashLen)
	if _, err := rand.Read(secret); err != nil {
		return nil, nil, err
	}
	up := &UpdatePath{Nodes: make([]UpdatePathNode, len(path))}
	for k, x := range path {
		if k > 0 {
			var err error
			if secret, err = cs.DeriveSecret(secret, "path"); err != nil {
				return nil, nil, err
			}
		}
		key, err := cs.nodeKey(secret)
		if err != nil {
			return nil, nil, err
		}
		secrets.secrets = append(secrets.secrets, secret)
		priv.keys[x] = key
		t.Nodes[x] = &Node{Parent: &ParentNode{EncryptionKey: key.Public(), UnmergedLeaves: []uint32{}}}
		up.Nodes[k].EncryptionKey = key.Public()
	}
	var err error
	if secrets.CommitSecret, err = cs.DeriveSecret(secret, "path"); err != nil {
		return nil, nil, err
	}

	leafKey, err := cs.GenerateHPKEKey()
	if err != nil {
		return nil, nil, err
	}
	leaf := *old
	leaf.EncryptionKey = leafKey.Public()
	leaf.SignatureKey = sigKey.Public()
	leaf.Source = SourceCommit
	leaf.Lifetime = Lifetime{}
	leaf.ParentHash = t.setPathParentHashes(cs, path, copathNodes)
	if err := leaf.Sign(cs, sigKey, ctx.GroupID, sender); err != nil {
		return nil, nil, err
	}
	t.Nodes[2*sender] = &Node{Leaf: &leaf}
	priv.keys[2*sender] = leafKey
	up.LeafNode = leaf

	gc, err := t.provisionalContext(cs, ctx)
	if err != nil {
		return nil, nil, err
	}
	for k := range path {
		for _, r := range t.Resolution(copathNodes[k], excluded) {
			kem, ct, err := cs.EncryptWithLabel(t.Nodes[r].encryptionKey(), "UpdatePathNode", gc, secrets.secrets[k])
			if err != nil {
				return nil, nil, err
			}
			up.Nodes[k].EncryptedPathSecret = append(up.Nodes[k].EncryptedPathSecret, HPKECiphertext{KEMOutput: kem, Ciphertext: ct})
		}
	}
	return up, secrets, nil
}

// MergeUpdatePath merges the UpdatePath of the member at leaf sender into
// t, as every receiver of a commit does (RFC 9420 section 7.5): it checks
// the new leaf's signature (source commit, groupID, sender's index) and
// the number of path nodes, blanks the sender's direct path, sets the keys
// of its filtered direct path, computes their parent hashes and checks the
// leaf's. It returns an error wrapping ErrInvalidPath or ErrBadSignature
// and leaves t as it was if the path does not apply.
func (t *RatchetTree) MergeUpdatePath(cs CipherSuite, sender uint32, up *UpdatePath, groupID []byte) error {
	if t.Leaf(sender) == nil {
		return fmt.Errorf("%w: leaf %d of the committer is blank", ErrInvalidPath, sender)
	}
	if up.LeafNode.Source != SourceCommit {
		return fmt.Errorf("%w: leaf node source %d, want commit", ErrInvalidPath, up.LeafNode.Source)
	}
	if err := up.LeafNode.Verify(cs, groupID, sender); err != nil {
		return err
	}
	path, copathNodes := t.filteredDirectPath(sender)
	if len(up.Nodes) != len(path) {
		return fmt.Errorf("%w: %d nodes for a filtered direct path of %d", ErrInvalidPath, len(up.Nodes), len(path))
	}
	saved := slices.Clone(t.Nodes)
	t.blankPath(sender)
	for k, x := range path {
		t.Nodes[x] = &Node{Parent: &ParentNode{EncryptionKey: up.Nodes[k].EncryptionKey, UnmergedLeaves: []uint32{}}}
	}
	if ph := t.setPathParentHashes(cs, path, copathNodes); !bytes.Equal(ph, up.LeafNode.ParentHash) {
		t.Nodes = saved
		return fmt.Errorf("%w: leaf %d's parent hash does not match its path", ErrInvalidPath, sender)
	}
	leaf := up.LeafNode
	t.Nodes[2*sender] = &Node{Leaf: &leaf}
	return nil
}

// DecryptUpdatePath decrypts, with the keys of priv, the path secret that
// the UpdatePath of the member at leaf sender carries for priv's member,
// after t has merged it (MergeUpdatePath). ctx is the provisional group
// context (its tree hash is replaced by t's) and excluded the leaves the
// commit adds. It derives the path secrets above, checks them against the
// path's public keys, stores the new keys in priv (dropping those of the
// sender's direct path) and returns the decrypted path secret and the
// commit secret.
func (t *RatchetTree) DecryptUpdatePath(cs CipherSuite, priv *PrivateTree, sender uint32, up *UpdatePath, ctx GroupContext, excluded []uint32) (pathSecret, commitSecret []byte, err error) {
	if priv.Leaf == sender {
		return nil, nil, fmt.Errorf("%w: a member does not decrypt its own path", ErrInvalidPath)
	}
	path, copathNodes := t.filteredDirectPath(sender)
	if len(up.Nodes) != len(path) {
		return nil, nil, fmt.Errorf("%w: %d nodes for a filtered direct path of %d", ErrInvalidPath, len(up.Nodes), len(path))
	}
	k := slices.IndexFunc(path, func(x uint32) bool { return isInSubtree(x, 2*priv.Leaf) })
	if k < 0 {
		return nil, nil, fmt.Errorf("%w: leaf %d is under no node of the path", ErrInvalidPath, priv.Leaf)
	}
	res := t.Resolution(copathNodes[k], excluded)
	if len(up.Nodes[k].EncryptedPathSecret) != len(res) {
		return nil, nil, fmt.Errorf("%w: %d ciphertexts for a resolution of %d", ErrInvalidPath, len(up.Nodes[k].EncryptedPathSecret), len(res))
	}
	r := slices.IndexFunc(res, func(x uint32) bool { return priv.keys[x] != nil })
	if r < 0 {
		return nil, nil, fmt.Errorf("%w: no private key for the resolution of node %d", ErrNotFound, copathNodes[k])
	}
	gc, err := t.provisionalContext(cs, ctx)
	if err != nil {
		return nil, nil, err
	}
	ct := up.Nodes[k].EncryptedPathSecret[r]
	pathSecret, err = priv.keys[res[r]].DecryptWithLabel("UpdatePathNode", gc, ct.KEMOutput, ct.Ciphertext)
	if err != nil {
		return nil, nil, err
	}
	keys := map[uint32]*HPKEKey{}
	secret := pathSecret
	for i := k; i < len(path); i++ {
		if i > k {
			if secret, err = cs.DeriveSecret(secret, "path"); err != nil {
				return nil, nil, err
			}
		}
		key, err := cs.nodeKey(secret)
		if err != nil {
			return nil, nil, err
		}
		if !bytes.Equal(key.Public(), up.Nodes[i].EncryptionKey) {
			return nil, nil, fmt.Errorf("%w: public key of node %d does not match its path secret", ErrInvalidPath, path[i])
		}
		keys[path[i]] = key
	}
	if commitSecret, err = cs.DeriveSecret(secret, "path"); err != nil {
		return nil, nil, err
	}
	for _, x := range directPath(2*sender, t.NumLeaves()) {
		delete(priv.keys, x)
	}
	maps.Copy(priv.keys, keys)
	return pathSecret, commitSecret, nil
}
