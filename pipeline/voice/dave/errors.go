package dave

import "errors"

var (
	// ErrMalformed is returned, wrapped with the field and why, for a
	// gateway payload that does not decode: a length running past the
	// end, an unknown operation, bytes left over.
	ErrMalformed = errors.New("dave: malformed payload")

	// ErrNoExternalSender is returned by the operations that need the
	// voice gateway's external sender (op 25) before it was set.
	ErrNoExternalSender = errors.New("dave: no external sender set")

	// ErrExternalSender is returned, wrapped with the detail, for an
	// external sender that cannot be used: not one P-256 key with a basic
	// credential, set once a group is established, or a Welcome whose
	// group names another one.
	ErrExternalSender = errors.New("dave: bad external sender")

	// ErrInvalidProposal is returned, wrapped with the epoch and the
	// reason, for proposals a member must refuse: not an external Add or
	// Remove of the current epoch signed by the external sender, a key
	// package that does not verify or is not DAVE's, a Remove of a blank
	// leaf or of oneself, a revoke of a proposal never received.
	ErrInvalidProposal = errors.New("dave: invalid proposal")

	// ErrUnrecognizedUser is returned, wrapped with the user id, for an
	// Add or a Welcome that brings in a user outside the recognised set
	// (the voice gateway's ops 11 and 13; see Session.RecognizeUsers).
	ErrUnrecognizedUser = errors.New("dave: unrecognised user")

	// ErrInvalidCommit is returned, wrapped with the epoch and the reason,
	// for a commit that cannot be processed: another member's commit
	// before a group is established, a commit of another epoch or group, a
	// proposal by value or by an unknown reference, a bad signature,
	// membership tag, path or confirmation tag. The caller sends op 31
	// and calls Session.Reset.
	ErrInvalidCommit = errors.New("dave: invalid commit")

	// ErrInvalidWelcome is returned, wrapped with the reason, for a
	// Welcome that cannot be processed: none of its secrets for the last
	// key package, a ratchet tree missing or invalid, a bad signature or
	// confirmation tag, another group or external sender, a user id twice.
	// The caller sends op 31 and calls Session.Reset.
	ErrInvalidWelcome = errors.New("dave: invalid welcome")

	// ErrNoGroup is returned by the operations that need an established
	// group (or, for proposals, at least the pending one) before there is
	// one.
	ErrNoGroup = errors.New("dave: no group")

	// ErrNotMember is returned, wrapped with the user id, when a user
	// named is not a member of the group.
	ErrNotMember = errors.New("dave: not a member")

	// ErrRemoved is returned by Session.ProcessCommit, wrapped with the
	// epoch, when the commit removes the session's own member: the
	// session no longer has a group.
	ErrRemoved = errors.New("dave: removed from the group")

	// ErrUnsupported is returned, wrapped with what, for MLS features
	// outside DAVE's subset: pre-shared keys, PrivateMessage, ReInit,
	// external commits, X.509 credentials.
	ErrUnsupported = errors.New("dave: unsupported MLS feature")

	// ErrCommitRejected is returned by ExternalSender.Commit, wrapped with
	// the reason, for a commit the voice gateway drops: of an older epoch
	// (another won it), with no proposals, with a proposal by value or not
	// its own, missing one of the epoch's proposals, or changing the
	// committer's credential or signature key.
	ErrCommitRejected = errors.New("dave: commit rejected")

	// ErrBadKeyPackage is returned by ExternalSender.AddKeyPackage,
	// wrapped with the reason, for a key package the gateway refuses: it
	// does not decode or verify, is not for suite 2 and protocol version
	// 1, names another user, or its lifetime is not 0 to 2^64-1.
	ErrBadKeyPackage = errors.New("dave: bad key package")
)
