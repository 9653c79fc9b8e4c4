package mls

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
)

// EpochSecrets are the secrets of one epoch of a group, derived by the key
// schedule of RFC 9420 section 8. They are values; nothing in them is
// guarded, and a copy may be read from any goroutine.
type EpochSecrets struct {
	// Suite is the cipher suite that derived the secrets.
	Suite CipherSuite

	JoinerSecret  []byte
	WelcomeSecret []byte
	EpochSecret   []byte

	SenderDataSecret   []byte
	EncryptionSecret   []byte
	ExporterSecret     []byte
	ExternalSecret     []byte
	ConfirmationKey    []byte
	MembershipKey      []byte
	ResumptionPSK      []byte
	EpochAuthenticator []byte

	// InitSecret is the init secret of the next epoch.
	InitSecret []byte
}

// zeros returns Nh zero bytes: the commit secret of a commit without path,
// and the PSK secret of an epoch without pre-shared keys.
func zeros() []byte { return make([]byte, hashLen) }

// joinerSecret returns ExpandWithLabel(Extract(initSecret, commitSecret),
// "joiner", ctx, Nh).
func (cs CipherSuite) joinerSecret(initSecret, commitSecret, ctx []byte) ([]byte, error) {
	prk, err := cs.Extract(initSecret, commitSecret)
	if err != nil {
		return nil, err
	}
	return cs.ExpandWithLabel(prk, "joiner", ctx, hashLen)
}

// KeySchedule derives the secrets of the epoch whose group context is ctx
// from the previous epoch's init secret, the commit secret (nil for a
// commit without path: Nh zero bytes) and the PSK secret (nil for none).
func (cs CipherSuite) KeySchedule(initSecret, commitSecret, pskSecret []byte, ctx *GroupContext) (*EpochSecrets, error) {
	if err := cs.check(); err != nil {
		return nil, err
	}
	if commitSecret == nil {
		commitSecret = zeros()
	}
	gc, err := ctx.Marshal()
	if err != nil {
		return nil, err
	}
	joiner, err := cs.joinerSecret(initSecret, commitSecret, gc)
	if err != nil {
		return nil, err
	}
	return cs.fromJoiner(joiner, pskSecret, gc)
}

// FromJoinerSecret derives the secrets of the epoch whose group context is
// ctx from its joiner secret, as a member joining by a Welcome does; the
// PSK secret is nil for none.
func (cs CipherSuite) FromJoinerSecret(joinerSecret, pskSecret []byte, ctx *GroupContext) (*EpochSecrets, error) {
	if err := cs.check(); err != nil {
		return nil, err
	}
	gc, err := ctx.Marshal()
	if err != nil {
		return nil, err
	}
	return cs.fromJoiner(joinerSecret, pskSecret, gc)
}

// memberSecret returns Extract(joiner, psk), from which the welcome and
// epoch secrets are derived.
func (cs CipherSuite) memberSecret(joiner, pskSecret []byte) ([]byte, error) {
	if pskSecret == nil {
		pskSecret = zeros()
	}
	return cs.Extract(joiner, pskSecret)
}

func (cs CipherSuite) fromJoiner(joiner, pskSecret, gc []byte) (*EpochSecrets, error) {
	member, err := cs.memberSecret(joiner, pskSecret)
	if err != nil {
		return nil, err
	}
	e := &EpochSecrets{Suite: cs, JoinerSecret: joiner}
	if e.WelcomeSecret, err = cs.DeriveSecret(member, "welcome"); err != nil {
		return nil, err
	}
	if e.EpochSecret, err = cs.ExpandWithLabel(member, "epoch", gc, hashLen); err != nil {
		return nil, err
	}
	for _, d := range []struct {
		label string
		out   *[]byte
	}{
		{"sender data", &e.SenderDataSecret},
		{"encryption", &e.EncryptionSecret},
		{"exporter", &e.ExporterSecret},
		{"external", &e.ExternalSecret},
		{"confirm", &e.ConfirmationKey},
		{"membership", &e.MembershipKey},
		{"resumption", &e.ResumptionPSK},
		{"authentication", &e.EpochAuthenticator},
		{"init", &e.InitSecret},
	} {
		if *d.out, err = cs.DeriveSecret(e.EpochSecret, d.label); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Export returns MLS-Exporter(label, context, length) (RFC 9420 section
// 8.5): ExpandWithLabel(DeriveSecret(exporter_secret, label), "exported",
// Hash(context), length). DAVE's sender base secret is
// Export("Discord Secure Frames v0", user id as 8 bytes little endian, 16).
func (e *EpochSecrets) Export(label string, context []byte, length uint16) ([]byte, error) {
	s, err := e.Suite.DeriveSecret(e.ExporterSecret, label)
	if err != nil {
		return nil, err
	}
	return e.Suite.ExpandWithLabel(s, "exported", e.Suite.Hash(context), length)
}

// ExternalKey returns the group's external HPKE key pair,
// KEM.DeriveKeyPair(external_secret), whose public key the external_pub
// extension carries.
func (e *EpochSecrets) ExternalKey() (*HPKEKey, error) {
	return e.Suite.DeriveHPKEKey(e.ExternalSecret)
}

// ConfirmationTag returns MAC(confirmation_key, confirmedTranscriptHash):
// the confirmation tag of the commit that starts the epoch, and of its
// GroupInfo.
func (e *EpochSecrets) ConfirmationTag(confirmedTranscriptHash []byte) []byte {
	return e.Suite.MAC(e.ConfirmationKey, confirmedTranscriptHash)
}

// VerifyConfirmationTag checks tag against ConfirmationTag in constant
// time; it returns an error wrapping ErrBadMAC if it does not match.
func (e *EpochSecrets) VerifyConfirmationTag(confirmedTranscriptHash, tag []byte) error {
	return e.Suite.verifyMAC(e.ConfirmationKey, confirmedTranscriptHash, tag, "confirmation tag")
}

// welcomeAEAD returns the AEAD and nonce that encrypt a Welcome's group
// info under welcomeSecret.
func (cs CipherSuite) welcomeAEAD(welcomeSecret []byte) (cipher.AEAD, []byte, error) {
	key, err := cs.ExpandWithLabel(welcomeSecret, "key", nil, aeadKey)
	if err != nil {
		return nil, nil, err
	}
	nonce, err := cs.ExpandWithLabel(welcomeSecret, "nonce", nil, aeadNonce)
	if err != nil {
		return nil, nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, nil, err
	}
	return aead, nonce, nil
}

// ConfirmedTranscriptHash returns the confirmed transcript hash after the
// commit in ac (RFC 9420 section 8.2): Hash(interimBefore ||
// ConfirmedTranscriptHashInput{wire_format, content, signature}).
func (cs CipherSuite) ConfirmedTranscriptHash(interimBefore []byte, ac *AuthenticatedContent) ([]byte, error) {
	if ac.Content.ContentType != ContentCommit {
		return nil, fmt.Errorf("%w: transcript hash of content type %d, not a commit", ErrMalformed, ac.Content.ContentType)
	}
	w := writer{b: append([]byte(nil), interimBefore...)}
	w.u16(uint16(ac.WireFormat))
	ac.Content.encode(&w)
	w.opaque(ac.Auth.Signature)
	if w.err != nil {
		return nil, w.err
	}
	return cs.Hash(w.b), nil
}

// InterimTranscriptHash returns the interim transcript hash after a commit:
// Hash(confirmed || InterimTranscriptHashInput{confirmation_tag}).
func (cs CipherSuite) InterimTranscriptHash(confirmed, confirmationTag []byte) ([]byte, error) {
	w := writer{b: append([]byte(nil), confirmed...)}
	w.opaque(confirmationTag)
	if w.err != nil {
		return nil, w.err
	}
	return cs.Hash(w.b), nil
}
