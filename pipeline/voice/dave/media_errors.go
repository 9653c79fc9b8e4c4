package dave

import "errors"

// Errors of the media layer: the key ratchet, the Encryptor and the
// Decryptor. Each refusal of a received frame wraps exactly one of them,
// with the detail, and is counted in DecryptorStats under its name.
var (
	// ErrBaseSecretSize is returned by NewKeyRatchet for a base secret that
	// is not BaseSecretSize bytes.
	ErrBaseSecretSize = errors.New("dave: base secret of the wrong size")

	// ErrKeyErased is returned, wrapped with the generation, by
	// KeyRatchet.Key for a generation whose key was erased or lies
	// behind the ratchet's secret: a ratchet only moves forward.
	ErrKeyErased = errors.New("dave: key generation erased")

	// ErrNoKeyRatchet is returned by the Encryptor when it has no key
	// ratchet and is not in passthrough mode, and by the Decryptor when it
	// has no key ratchet left (none given yet, or all expired after a
	// transition): the frame belongs to no epoch it knows.
	ErrNoKeyRatchet = errors.New("dave: no key ratchet")

	// ErrFrameBufferTooSmall is returned by Encryptor.Encrypt when the
	// output buffer is shorter than MaxEncryptedFrameSize of the frame.
	ErrFrameBufferTooSmall = errors.New("dave: output buffer too small for the frame")

	// ErrFrameNotEncrypted is returned for a received frame that does not
	// end with the 0xFAFA marker, while passthrough is not allowed.
	ErrFrameNotEncrypted = errors.New("dave: frame not encrypted")

	// ErrFrameTruncated is returned for a received frame too short for its
	// supplemental bytes: under 11 bytes, a supplemental size under 11
	// (no room for the 8-byte tag, a nonce, the size and the marker), or
	// a supplemental size larger than the frame.
	ErrFrameTruncated = errors.New("dave: frame truncated")

	// ErrFrameMalformed is returned, wrapped with the field, for a received
	// frame whose supplemental bytes do not parse: a nonce that is not a
	// minimal ULEB128 of at most 32 bits, or unencrypted ranges that do not
	// parse or are not ascending, disjoint and within the frame.
	ErrFrameMalformed = errors.New("dave: malformed frame")

	// ErrFrameReplayed is returned, wrapped with the nonce, for a frame
	// whose nonce was already decrypted, or is older than the replay
	// window (the newest nonce and up to MaxMissingNonces missing before
	// it).
	ErrFrameReplayed = errors.New("dave: replayed or too old frame")

	// ErrFrameAuth is returned for a frame that does not authenticate
	// under the key of its generation: a wrong key, or bytes (the tag
	// included) changed or cut on the way.
	ErrFrameAuth = errors.New("dave: frame failed authentication")

	// ErrGenerationTooFar is returned, wrapped with the generation, for a
	// frame whose key generation is more than MaxGenerationGap past the
	// newest one decrypted, or more than the ratchet's age allows
	// (MaxFramesPerSecond frames a second since the ratchet was given).
	ErrGenerationTooFar = errors.New("dave: key generation too far ahead")

	// ErrGenerationExpired is returned, wrapped with the generation, for a
	// frame of a key generation whose key has expired and been erased.
	ErrGenerationExpired = errors.New("dave: key generation expired")
)
