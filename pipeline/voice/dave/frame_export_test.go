package dave

// Hooks into the media layer's internals for the external tests.

// AppendULEB128 and ReadULEB128 are the frame's ULEB128 codec.
var (
	AppendULEB128 = appendULEB128
	ReadULEB128   = readULEB128
)

// MaxRatchets is how many ratchets a Decryptor keeps at most.
const MaxRatchets = maxRatchets

// WrapGeneration is the full generation read from a nonce's top byte.
var WrapGeneration = wrapGeneration

// RatchetNonce returns the MLS hash ratchet's "nonce" output of a secret
// at generation g, which DAVE does not use but the published answers
// give.
func RatchetNonce(secret []byte, g uint32) ([]byte, error) {
	return mediaSuite.DeriveTreeSecret(secret, "nonce", g, 12)
}

// SetEncryptorState makes e's next frame use nonce+1 as if gen were its
// current generation, to reach a generation boundary without sealing
// 2^24 frames.
func SetEncryptorState(e *Encryptor, gen, nonce uint32) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.gen, e.nonce, e.aead = gen, nonce, nil
}

// KeptKeys returns how many keys r holds.
func KeptKeys(r *KeyRatchet) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.keys)
}
