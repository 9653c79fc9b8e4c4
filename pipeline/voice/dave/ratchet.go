package dave

import (
	"fmt"
	"sync"

	"github.com/streamcatcher/streamcatcher/pipeline/voice/dave/internal/mls"
)

// Sizes of the media keys.
const (
	// BaseSecretSize is the size of a sender's base secret, the MLS
	// exporter's output for that sender ("Discord Secure Frames v0").
	BaseSecretSize = 16
	// KeySize is the size of a frame key (AES-128-GCM).
	KeySize = 16
	// ratchetSecretSize is the size of every secret after the base one
	// (the suite's hash, SHA-256).
	ratchetSecretSize = 32
	// maxKeptKeys bounds the keys a KeyRatchet keeps. A Decryptor needs
	// at most MaxGenerationGap+1 at once, and keeps its own cipher for
	// each generation in use; beyond this the lowest are erased.
	maxKeptKeys = 2 * (MaxGenerationGap + 1)
)

// mediaSuite is the MLS cipher suite whose KDF the ratchet uses.
const mediaSuite = mls.P256AES128GCMSHA256P256

// KeyRatchet derives the frame keys of one sender from the sender's base
// secret, one key per generation (2^24 frames each), as MLS's hash ratchet
// does (RFC 9420 section 9.1, with DAVE's labels):
//
//	secret(0)   = base secret (16 bytes)
//	key(g)      = ExpandWithLabel(secret(g), "key",    g, 16)
//	secret(g+1) = ExpandWithLabel(secret(g), "secret", g, 32)
//
// where g is the context, a big-endian uint32, and ExpandWithLabel is
// HKDF-Expand with SHA-256 over {uint16 length; "MLS 1.0 "+label; g}.
// (The ratchet's "nonce" output is not used by DAVE, which numbers its
// frames itself.)
//
// The ratchet only moves forward: deriving generation g erases every
// secret before g's, and a key once erased (by Erase, or because more than
// a bounded number of keys are kept) cannot be derived again (ErrKeyErased).
// Keys of the generations skipped over are kept, so that frames reordered
// across a generation boundary still decrypt.
//
// A KeyRatchet is safe for concurrent use; an Encryptor and a Decryptor
// may share one (a sender hearing itself), though each usually has its own.
type KeyRatchet struct {
	mu sync.Mutex // guards the fields below
	// next is the generation whose secret is held in secret.
	next uint32
	// secret is secret(next); its length is BaseSecretSize for
	// generation 0 and ratchetSecretSize after.
	secret []byte
	// keys holds the keys derived and not erased, by generation; all are
	// below next.
	keys map[uint32][KeySize]byte
}

// NewKeyRatchet returns the ratchet of the sender whose base secret is
// given (BaseSecretSize bytes; it is copied).
func NewKeyRatchet(baseSecret []byte) (*KeyRatchet, error) {
	if len(baseSecret) != BaseSecretSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrBaseSecretSize, len(baseSecret), BaseSecretSize)
	}
	return &KeyRatchet{
		secret: append([]byte(nil), baseSecret...),
		keys:   make(map[uint32][KeySize]byte),
	}, nil
}

// Key returns the key of generation g, deriving it (and the keys of the
// generations before it not yet derived) if needed. Deriving costs two
// HMAC-SHA-256 per generation stepped over; a caller facing a remote
// peer bounds g (the Decryptor allows MaxGenerationGap past the newest
// generation it has decrypted). It returns ErrKeyErased for a generation
// behind the ratchet whose key is no longer kept.
func (r *KeyRatchet) Key(g uint32) ([KeySize]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if k, ok := r.keys[g]; ok {
		return k, nil
	}
	if g < r.next || r.secret == nil {
		return [KeySize]byte{}, fmt.Errorf("%w: generation %d", ErrKeyErased, g)
	}
	for {
		derived := r.next
		if err := r.stepLocked(); err != nil {
			return [KeySize]byte{}, err
		}
		if derived == g {
			return r.keys[g], nil
		}
	}
}

// stepLocked derives the key of generation next, keeps it, and moves the
// secret on to the next generation. It needs r.mu held.
func (r *KeyRatchet) stepLocked() error {
	g := r.next
	key, err := mediaSuite.DeriveTreeSecret(r.secret, "key", g, KeySize)
	if err != nil {
		return fmt.Errorf("dave: ratchet key of generation %d: %w", g, err)
	}
	secret, err := mediaSuite.DeriveTreeSecret(r.secret, "secret", g, ratchetSecretSize)
	if err != nil {
		return fmt.Errorf("dave: ratchet secret after generation %d: %w", g, err)
	}
	clear(r.secret)
	if g == ^uint32(0) {
		r.secret = nil // the last generation: nothing after it
	} else {
		r.secret = secret
		r.next++
	}
	r.keys[g] = [KeySize]byte(key)
	clear(key)
	for len(r.keys) > maxKeptKeys {
		lowest := g
		for k := range r.keys {
			lowest = min(lowest, k)
		}
		delete(r.keys, lowest)
	}
	return nil
}

// Erase forgets the key of generation g; a later Key(g) fails with
// ErrKeyErased if g is behind the ratchet. Erasing a generation not yet
// derived does nothing.
func (r *KeyRatchet) Erase(g uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.keys, g)
}
