package mls

import "errors"

var (
	// ErrMalformed is returned, wrapped with the field that could not be
	// read and why, when bytes do not decode as the structure RFC 9420
	// defines: a length that runs past the end of the input, a
	// variable-length integer that is not minimally encoded or has the
	// reserved prefix 11, an optional's presence octet other than 0 or 1,
	// an unknown enumeration value where the structure depends on it, or
	// bytes left over after the structure.
	ErrMalformed = errors.New("mls: malformed encoding")

	// ErrUnsupportedSuite is returned, wrapped with the suite's number, for
	// a cipher suite this package does not implement (it implements
	// suites 1 and 2).
	ErrUnsupportedSuite = errors.New("mls: unsupported cipher suite")

	// ErrBadKey is returned, wrapped with the detail, for a public or
	// private key whose bytes are not a key of the suite's algorithm.
	ErrBadKey = errors.New("mls: bad key")

	// ErrBadSignature is returned, wrapped with what was signed, when a
	// signature does not verify.
	ErrBadSignature = errors.New("mls: bad signature")

	// ErrBadMAC is returned, wrapped with which tag, when a confirmation
	// or membership tag does not match.
	ErrBadMAC = errors.New("mls: bad MAC")

	// ErrDecrypt is returned, wrapped with what was being decrypted, when
	// an HPKE or AEAD ciphertext does not open.
	ErrDecrypt = errors.New("mls: decryption failed")

	// ErrInvalidTree is returned, wrapped with the node and the rule it
	// breaks, for a ratchet tree that RFC 9420 section 7 forbids: a
	// parent node that no parent-hash chain covers, a leaf whose
	// signature does not verify, a node of the wrong type at a position,
	// a shape that is no full tree.
	ErrInvalidTree = errors.New("mls: invalid ratchet tree")

	// ErrInvalidPath is returned, wrapped with the detail, for an
	// UpdatePath that cannot be applied to the tree: the wrong number of
	// nodes or ciphertexts, a parent hash that does not match, public keys
	// that do not match the decrypted path secret.
	ErrInvalidPath = errors.New("mls: invalid update path")

	// ErrNotFound is returned, wrapped with what was looked for, when a
	// reference names nothing: a Welcome with no secrets for a key
	// package, a leaf index beyond the tree, a node with no private key.
	ErrNotFound = errors.New("mls: not found")

	// ErrGeneration is returned, wrapped with the leaf, ratchet and
	// generation, when a secret tree's ratchet cannot give the key of a
	// generation: one already used, skipped over and no longer kept, or
	// more than MaxForwardGenerations ahead of the ratchet.
	ErrGeneration = errors.New("mls: unusable ratchet generation")

	// ErrWrongEpoch is returned, wrapped with the group and epoch, for a
	// message of another group, or of another epoch of the group, than
	// the one whose keys are to protect or unprotect it.
	ErrWrongEpoch = errors.New("mls: message of another group or epoch")

	// ErrUnsupported is returned, wrapped with what, for a part of MLS
	// this package does not implement that a message asks for: a
	// resumption PSK of a ReInit or of a branch.
	ErrUnsupported = errors.New("mls: unsupported feature")
)
