package mls

import (
	"bytes"
	"fmt"
)

// Welcome messages (RFC 9420 section 12.4.3.1).

// NewMember is a member a Welcome is made for: its key package, and the
// path secret of the lowest node of the committer's path above it (nil if
// the commit has no path).
type NewMember struct {
	KeyPackage *KeyPackage
	PathSecret []byte
}

// NewWelcome encrypts gi, already signed, under the welcome secret derived
// from joinerSecret (and no PSK), and the GroupSecrets of each new member
// to the init key of its key package.
func NewWelcome(cs CipherSuite, joinerSecret []byte, gi *GroupInfo, members []NewMember) (*Welcome, error) {
	member, err := cs.memberSecret(joinerSecret, nil)
	if err != nil {
		return nil, err
	}
	welcomeSecret, err := cs.DeriveSecret(member, "welcome")
	if err != nil {
		return nil, err
	}
	aead, nonce, err := cs.welcomeAEAD(welcomeSecret)
	if err != nil {
		return nil, err
	}
	giBytes, err := gi.Marshal()
	if err != nil {
		return nil, err
	}
	wl := &Welcome{CipherSuite: cs, EncryptedGroupInfo: aead.Seal(nil, nonce, giBytes, nil)}
	for _, m := range members {
		ref, err := m.KeyPackage.Ref()
		if err != nil {
			return nil, err
		}
		gs, err := (&GroupSecrets{JoinerSecret: joinerSecret, PathSecret: m.PathSecret, PSKs: []PreSharedKeyID{}}).Marshal()
		if err != nil {
			return nil, err
		}
		kem, ct, err := cs.EncryptWithLabel(m.KeyPackage.InitKey, "Welcome", wl.EncryptedGroupInfo, gs)
		if err != nil {
			return nil, err
		}
		wl.Secrets = append(wl.Secrets, EncryptedGroupSecrets{
			NewMember:             ref,
			EncryptedGroupSecrets: HPKECiphertext{KEMOutput: kem, Ciphertext: ct},
		})
	}
	return wl, nil
}

// Open decrypts the part of the Welcome meant for the holder of kp, whose
// init private key is initKey: it finds the entry of kp's KeyPackageRef,
// decrypts its GroupSecrets and, with the welcome secret they give,
// the GroupInfo. It does not verify the group info's signature (the
// signer's key is in the ratchet tree) nor its confirmation tag. It
// returns an error wrapping ErrNotFound if the Welcome has no entry for
// kp, ErrDecrypt if one does not open, ErrUnsupportedSuite or ErrMalformed.
//
// A Welcome whose group secrets name pre-shared keys is refused with an
// error wrapping ErrUnsupportedSuite: OpenWithPSKs opens those.
func (wl *Welcome) Open(kp *KeyPackage, initKey *HPKEKey) (*GroupSecrets, *GroupInfo, error) {
	gs, gi, _, err := wl.open(kp, initKey, nil)
	return gs, gi, err
}

// OpenWithPSKs opens the Welcome as Open does, taking the pre-shared keys
// its group secrets name from psks (checked as PSKStore.Secret checks
// them), and returns their psk_secret too, for FromJoinerSecret: Nh zero
// bytes when there are none.
func (wl *Welcome) OpenWithPSKs(kp *KeyPackage, initKey *HPKEKey, psks *PSKStore) (*GroupSecrets, *GroupInfo, []byte, error) {
	return wl.open(kp, initKey, psks)
}

// open opens the Welcome, with the pre-shared keys of psks; a nil psks
// refuses a Welcome that names any.
func (wl *Welcome) open(kp *KeyPackage, initKey *HPKEKey, psks *PSKStore) (*GroupSecrets, *GroupInfo, []byte, error) {
	cs := wl.CipherSuite
	if err := cs.check(); err != nil {
		return nil, nil, nil, err
	}
	if kp.CipherSuite != cs {
		return nil, nil, nil, fmt.Errorf("%w: key package of %v for a welcome of %v", ErrNotFound, kp.CipherSuite, cs)
	}
	ref, err := kp.Ref()
	if err != nil {
		return nil, nil, nil, err
	}
	var egs *EncryptedGroupSecrets
	for i := range wl.Secrets {
		if bytes.Equal(wl.Secrets[i].NewMember, ref) {
			egs = &wl.Secrets[i]
			break
		}
	}
	if egs == nil {
		return nil, nil, nil, fmt.Errorf("%w: welcome has no secrets for key package %x", ErrNotFound, ref)
	}
	pt, err := initKey.DecryptWithLabel("Welcome", wl.EncryptedGroupInfo, egs.EncryptedGroupSecrets.KEMOutput, egs.EncryptedGroupSecrets.Ciphertext)
	if err != nil {
		return nil, nil, nil, err
	}
	gs := new(GroupSecrets)
	if err := gs.Unmarshal(pt); err != nil {
		return nil, nil, nil, err
	}
	var pskSecret []byte
	switch {
	case psks != nil:
		if pskSecret, err = psks.Secret(cs, gs.PSKs); err != nil {
			return nil, nil, nil, err
		}
	case len(gs.PSKs) > 0:
		return nil, nil, nil, fmt.Errorf("%w: welcome with %d pre-shared keys", ErrUnsupportedSuite, len(gs.PSKs))
	default:
		pskSecret = zeros()
	}
	member, err := cs.memberSecret(gs.JoinerSecret, pskSecret)
	if err != nil {
		return nil, nil, nil, err
	}
	welcomeSecret, err := cs.DeriveSecret(member, "welcome")
	if err != nil {
		return nil, nil, nil, err
	}
	aead, nonce, err := cs.welcomeAEAD(welcomeSecret)
	if err != nil {
		return nil, nil, nil, err
	}
	giBytes, err := aead.Open(nil, nonce, wl.EncryptedGroupInfo, nil)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: group info: %v", ErrDecrypt, err)
	}
	gi := new(GroupInfo)
	if err := gi.Unmarshal(giBytes); err != nil {
		return nil, nil, nil, err
	}
	return gs, gi, pskSecret, nil
}
