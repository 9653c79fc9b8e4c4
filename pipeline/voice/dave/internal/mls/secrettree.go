package mls

import (
	"fmt"
	"maps"
	"slices"
)

// The secret tree of RFC 9420 section 9: the keys and nonces that encrypt
// PrivateMessages, one pair of hash ratchets per leaf, all derived from
// the epoch's encryption secret.
//
//	tree_node_[root]_secret = encryption_secret
//	tree_node_[left(x)]_secret  = ExpandWithLabel(tree_node_[x]_secret, "tree", "left", Nh)
//	tree_node_[right(x)]_secret = ExpandWithLabel(tree_node_[x]_secret, "tree", "right", Nh)
//
//	handshake_ratchet_secret_[N]_[0]   = ExpandWithLabel(tree_node_[N]_secret, "handshake", "", Nh)
//	application_ratchet_secret_[N]_[0] = ExpandWithLabel(tree_node_[N]_secret, "application", "", Nh)
//
//	ratchet_key_[i]_[j]      = DeriveTreeSecret(ratchet_secret_[i]_[j], "key", j, AEAD.Nk)
//	ratchet_nonce_[i]_[j]    = DeriveTreeSecret(ratchet_secret_[i]_[j], "nonce", j, AEAD.Nn)
//	ratchet_secret_[i]_[j+1] = DeriveTreeSecret(ratchet_secret_[i]_[j], "secret", j, Nh)

// RatchetType names one of a leaf's two hash ratchets.
type RatchetType uint8

// The ratchets of a leaf (RFC 9420 section 9.1).
const (
	// HandshakeRatchet gives the keys of proposals and commits sent as
	// PrivateMessages.
	HandshakeRatchet RatchetType = iota
	// ApplicationRatchet gives the keys of application messages.
	ApplicationRatchet
)

// String returns the ratchet's label in the key derivation.
func (r RatchetType) String() string {
	if r == HandshakeRatchet {
		return "handshake"
	}
	return "application"
}

// Bounds on what a received message can make a ratchet do (RFC 9420
// section 9.2 leaves them to the application).
const (
	// MaxForwardGenerations is how far beyond a ratchet's next generation
	// the generation of a received message may be: deriving a key that
	// far ahead costs that many steps of the ratchet, so a message
	// claiming generation 2^32-1 is refused instead.
	MaxForwardGenerations = 1024
	// KeptSkippedKeys is how many keys of generations skipped over (for
	// messages that arrive out of order) a ratchet keeps; the oldest go
	// first.
	KeptSkippedKeys = 32
)

// ratchetKey is the AEAD key and nonce of one generation of a ratchet.
type ratchetKey struct {
	key, nonce []byte
}

// ratchet is a hash ratchet: the secret of its next generation, and the
// keys of earlier generations skipped over and not yet used.
type ratchet struct {
	next    uint32 // generation of secret
	secret  []byte
	skipped map[uint32]ratchetKey // at most KeptSkippedKeys, all below next
}

// SecretTree is the secret tree of one epoch (RFC 9420 section 9). It
// derives what it needs on demand and deletes each secret once it has
// been used, as section 9.2 asks: a node's secret once its children's are
// derived, a ratchet's secret once the next generation's is, a key once a
// message has been encrypted or decrypted with it. A SecretTree is not
// safe for concurrent use.
type SecretTree struct {
	suite  CipherSuite
	leaves uint32
	// nodes holds the secrets of the nodes not yet expanded: at first
	// the root; exactly one node on the path from the root to a leaf
	// whose ratchets are not yet made.
	nodes map[uint32][]byte
	// ratchets holds the ratchets of the leaves used so far.
	ratchets map[uint32]*[2]ratchet
}

// NewSecretTree returns the secret tree of a group of leaves leaves (a
// power of two, as a ratchet tree's leaf count is) whose encryption secret
// is encryptionSecret.
func (cs CipherSuite) NewSecretTree(encryptionSecret []byte, leaves uint32) (*SecretTree, error) {
	if err := cs.check(); err != nil {
		return nil, err
	}
	if leaves == 0 || leaves&(leaves-1) != 0 {
		return nil, fmt.Errorf("%w: secret tree of %d leaves, not a power of two", ErrInvalidTree, leaves)
	}
	if len(encryptionSecret) != hashLen {
		return nil, fmt.Errorf("%w: encryption secret of %d bytes", ErrBadKey, len(encryptionSecret))
	}
	return &SecretTree{
		suite:    cs,
		leaves:   leaves,
		nodes:    map[uint32][]byte{root(leaves): slices.Clone(encryptionSecret)},
		ratchets: map[uint32]*[2]ratchet{},
	}, nil
}

// Leaves returns the number of leaves of the tree.
func (t *SecretTree) Leaves() uint32 { return t.leaves }

// leafRatchets returns the ratchets of leaf, making them from the tree
// the first time: it expands the secrets down from the lowest ancestor
// still holding one, keeping the siblings' and deleting its own.
func (t *SecretTree) leafRatchets(leaf uint32) (*[2]ratchet, error) {
	if leaf >= t.leaves {
		return nil, fmt.Errorf("%w: leaf %d of a secret tree of %d leaves", ErrNotFound, leaf, t.leaves)
	}
	if r, ok := t.ratchets[leaf]; ok {
		return r, nil
	}
	x := 2 * leaf
	path := []uint32{x}
	for {
		if _, ok := t.nodes[x]; ok {
			break
		}
		if x == root(t.leaves) {
			return nil, fmt.Errorf("%w: secret tree: no secret left above leaf %d", ErrNotFound, leaf)
		}
		x = parent(x)
		path = append(path, x)
	}
	for i := len(path) - 1; i > 0; i-- {
		p := path[i]
		secret := t.nodes[p]
		l, err := t.suite.ExpandWithLabel(secret, "tree", []byte("left"), hashLen)
		if err != nil {
			return nil, err
		}
		r, err := t.suite.ExpandWithLabel(secret, "tree", []byte("right"), hashLen)
		if err != nil {
			return nil, err
		}
		t.nodes[left(p)], t.nodes[right(p)] = l, r
		clear(secret)
		delete(t.nodes, p)
	}
	secret := t.nodes[2*leaf]
	var rs [2]ratchet
	for i, label := range []string{"handshake", "application"} {
		s, err := t.suite.ExpandWithLabel(secret, label, nil, hashLen)
		if err != nil {
			return nil, err
		}
		rs[i] = ratchet{secret: s, skipped: map[uint32]ratchetKey{}}
	}
	clear(secret)
	delete(t.nodes, 2*leaf)
	t.ratchets[leaf] = &rs
	return &rs, nil
}

// ratchet returns leaf's ratchet rt.
func (t *SecretTree) ratchet(leaf uint32, rt RatchetType) (*ratchet, error) {
	if rt != HandshakeRatchet && rt != ApplicationRatchet {
		return nil, fmt.Errorf("%w: ratchet type %d", ErrNotFound, rt)
	}
	rs, err := t.leafRatchets(leaf)
	if err != nil {
		return nil, err
	}
	return &rs[rt], nil
}

// step returns the key and nonce of generation gen from its secret, and
// the secret of generation gen+1.
func (cs CipherSuite) step(secret []byte, gen uint32) (ratchetKey, []byte, error) {
	key, err := cs.DeriveTreeSecret(secret, "key", gen, aeadKey)
	if err != nil {
		return ratchetKey{}, nil, err
	}
	nonce, err := cs.DeriveTreeSecret(secret, "nonce", gen, aeadNonce)
	if err != nil {
		return ratchetKey{}, nil, err
	}
	next, err := cs.DeriveTreeSecret(secret, "secret", gen, hashLen)
	if err != nil {
		return ratchetKey{}, nil, err
	}
	return ratchetKey{key, nonce}, next, nil
}

// Next returns the key and nonce of the next generation of leaf's
// ratchet rt, for a message the member sends from leaf, and moves the
// ratchet past it. It returns an error wrapping ErrNotFound for a leaf
// beyond the tree, ErrGeneration when the ratchet is exhausted.
func (t *SecretTree) Next(leaf uint32, rt RatchetType) (generation uint32, key, nonce []byte, err error) {
	r, err := t.ratchet(leaf, rt)
	if err != nil {
		return 0, nil, nil, err
	}
	if r.next == ^uint32(0) {
		return 0, nil, nil, fmt.Errorf("%w: leaf %d %v ratchet exhausted", ErrGeneration, leaf, rt)
	}
	k, secret, err := t.suite.step(r.secret, r.next)
	if err != nil {
		return 0, nil, nil, err
	}
	generation = r.next
	clear(r.secret)
	r.secret, r.next = secret, r.next+1
	return generation, k.key, k.nonce, nil
}

// Key returns the key and nonce of generation gen of leaf's ratchet rt,
// for a message received from leaf, and deletes them: a generation is
// given once. Generations skipped over are kept for messages that arrive
// out of order, at most KeptSkippedKeys of them. It returns an error
// wrapping ErrGeneration for a generation already used or no longer kept,
// or more than MaxForwardGenerations ahead of the ratchet, and
// ErrNotFound for a leaf beyond the tree.
func (t *SecretTree) Key(leaf uint32, rt RatchetType, gen uint32) (key, nonce []byte, err error) {
	k, commit, err := t.key(leaf, rt, gen)
	if err != nil {
		return nil, nil, err
	}
	commit()
	return k.key, k.nonce, nil
}

// key returns the key and nonce of generation gen of leaf's ratchet rt
// as Key does, with a function that deletes them and moves the ratchet
// as Key would. Until it is called the ratchet is unchanged, so that a
// message that does not decrypt moves nothing.
func (t *SecretTree) key(leaf uint32, rt RatchetType, gen uint32) (ratchetKey, func(), error) {
	r, err := t.ratchet(leaf, rt)
	if err != nil {
		return ratchetKey{}, nil, err
	}
	if gen < r.next {
		k, ok := r.skipped[gen]
		if !ok {
			return ratchetKey{}, nil, fmt.Errorf("%w: leaf %d %v generation %d already used or no longer kept (next %d)", ErrGeneration, leaf, rt, gen, r.next)
		}
		return k, func() { delete(r.skipped, gen) }, nil
	}
	if gen-r.next > MaxForwardGenerations {
		return ratchetKey{}, nil, fmt.Errorf("%w: leaf %d %v generation %d is more than %d ahead of %d", ErrGeneration, leaf, rt, gen, MaxForwardGenerations, r.next)
	}
	if gen == ^uint32(0) {
		return ratchetKey{}, nil, fmt.Errorf("%w: leaf %d %v generation %d", ErrGeneration, leaf, rt, gen)
	}
	// Derive up to gen, keeping the last KeptSkippedKeys keys passed.
	secret := r.secret
	skipped := make([]ratchetKey, 0, min(gen-r.next, KeptSkippedKeys))
	first := gen - uint32(cap(skipped)) // generation of skipped[0]
	var k ratchetKey
	for g := r.next; ; g++ {
		k2, next, err := t.suite.step(secret, g)
		if err != nil {
			return ratchetKey{}, nil, err
		}
		if secret != nil && g != r.next {
			clear(secret)
		}
		secret = next
		if g == gen {
			k = k2
			break
		}
		if g >= first {
			skipped = append(skipped, k2)
		}
	}
	return k, func() {
		for i, s := range skipped {
			r.skipped[first+uint32(i)] = s
		}
		if n := len(r.skipped) - KeptSkippedKeys; n > 0 {
			for _, g := range slices.Sorted(maps.Keys(r.skipped))[:n] {
				delete(r.skipped, g)
			}
		}
		clear(r.secret)
		r.secret, r.next = secret, gen+1
	}, nil
}

// SenderDataKey returns the key and nonce that encrypt the sender data of
// a PrivateMessage whose content ciphertext is ciphertext (RFC 9420
// section 6.3.2): ExpandWithLabel(sender_data_secret, "key" or "nonce",
// ciphertext_sample, AEAD.Nk or AEAD.Nn), the sample being the first Nh
// bytes of the ciphertext (all of it if shorter).
func (cs CipherSuite) SenderDataKey(senderDataSecret, ciphertext []byte) (key, nonce []byte, err error) {
	sample := ciphertext[:min(len(ciphertext), hashLen)]
	if key, err = cs.ExpandWithLabel(senderDataSecret, "key", sample, aeadKey); err != nil {
		return nil, nil, err
	}
	if nonce, err = cs.ExpandWithLabel(senderDataSecret, "nonce", sample, aeadNonce); err != nil {
		return nil, nil, err
	}
	return key, nonce, nil
}
