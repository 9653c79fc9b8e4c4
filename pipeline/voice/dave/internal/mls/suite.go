package mls

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// CipherSuite is an MLS cipher suite (RFC 9420 section 5.1): the KEM, AEAD,
// hash and signature algorithms of a group. Its methods are the
// cryptographic operations of RFC 9420 section 5 with the suite's
// algorithms; they are safe for concurrent use.
type CipherSuite uint16

// The cipher suites this package implements. Both use HKDF-SHA256,
// AES-128-GCM and SHA-256; they differ in the KEM and signature.
const (
	// X25519AES128GCMSHA256Ed25519 is MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519.
	X25519AES128GCMSHA256Ed25519 CipherSuite = 1
	// P256AES128GCMSHA256P256 is MLS_128_DHKEMP256_AES128GCM_SHA256_P256,
	// the suite of DAVE.
	P256AES128GCMSHA256P256 CipherSuite = 2
)

// Sizes shared by the implemented suites.
const (
	hashLen   = sha256.Size // KDF.Nh
	aeadKey   = 16          // AEAD.Nk of AES-128-GCM
	aeadNonce = 12          // AEAD.Nn of AES-128-GCM
)

// String returns the suite's name in the IANA registry.
func (cs CipherSuite) String() string {
	switch cs {
	case X25519AES128GCMSHA256Ed25519:
		return "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519"
	case P256AES128GCMSHA256P256:
		return "MLS_128_DHKEMP256_AES128GCM_SHA256_P256"
	default:
		return fmt.Sprintf("cipher suite %#04x", uint16(cs))
	}
}

// check returns an error wrapping ErrUnsupportedSuite unless the suite is
// one this package implements.
func (cs CipherSuite) check() error {
	if cs != X25519AES128GCMSHA256Ed25519 && cs != P256AES128GCMSHA256P256 {
		return fmt.Errorf("%w: %v", ErrUnsupportedSuite, cs)
	}
	return nil
}

// Supported reports whether the suite is one this package implements.
func (cs CipherSuite) Supported() bool { return cs.check() == nil }

// kem returns the suite's HPKE KEM.
func (cs CipherSuite) kem() hpke.KEM {
	if cs == X25519AES128GCMSHA256Ed25519 {
		return hpke.DHKEM(ecdh.X25519())
	}
	return hpke.DHKEM(ecdh.P256())
}

// Hash returns the suite's hash (SHA-256) of b.
func (cs CipherSuite) Hash(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// MAC returns the suite's MAC (HMAC-SHA256) of data under key.
func (cs CipherSuite) MAC(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// verifyMAC checks in constant time that tag is the MAC of data under key;
// what names the tag in the error, which wraps ErrBadMAC.
func (cs CipherSuite) verifyMAC(key, data, tag []byte, what string) error {
	if !hmac.Equal(cs.MAC(key, data), tag) {
		return fmt.Errorf("%w: %s", ErrBadMAC, what)
	}
	return nil
}

// Extract is the suite's KDF.Extract (HKDF-SHA256) with salt and input key
// material ikm.
func (cs CipherSuite) Extract(salt, ikm []byte) ([]byte, error) {
	return hkdf.Extract(sha256.New, ikm, salt)
}

// labeled encodes the {opaque label<V>; opaque content<V>;} structure that
// SignContent, EncryptContext and RefHashInput share.
func labeled(label string, content []byte) ([]byte, error) {
	w := writer{}
	w.opaque([]byte(label))
	w.opaque(content)
	return w.b, w.err
}

// ExpandWithLabel returns length bytes of KDF.Expand(secret, KDFLabel),
// KDFLabel being {uint16 length; "MLS 1.0 "+label; context} (RFC 9420
// section 8).
func (cs CipherSuite) ExpandWithLabel(secret []byte, label string, context []byte, length uint16) ([]byte, error) {
	w := writer{}
	w.u16(length)
	w.opaque([]byte("MLS 1.0 " + label))
	w.opaque(context)
	if w.err != nil {
		return nil, w.err
	}
	return hkdf.Expand(sha256.New, secret, string(w.b), int(length))
}

// DeriveSecret returns ExpandWithLabel(secret, label, "", Nh).
func (cs CipherSuite) DeriveSecret(secret []byte, label string) ([]byte, error) {
	return cs.ExpandWithLabel(secret, label, nil, hashLen)
}

// DeriveTreeSecret returns ExpandWithLabel(secret, label, generation as a
// big-endian uint32, length) (RFC 9420 section 9).
func (cs CipherSuite) DeriveTreeSecret(secret []byte, label string, generation uint32, length uint16) ([]byte, error) {
	return cs.ExpandWithLabel(secret, label, binary.BigEndian.AppendUint32(nil, generation), length)
}

// RefHash returns Hash(RefHashInput{label, value}) (RFC 9420 section 5.2).
func (cs CipherSuite) RefHash(label string, value []byte) ([]byte, error) {
	in, err := labeled(label, value)
	if err != nil {
		return nil, err
	}
	return cs.Hash(in), nil
}

// SigningKey is a private signature key of a cipher suite: Ed25519 for
// suite 1, ECDSA P-256 for suite 2. It is safe for concurrent use.
type SigningKey struct {
	suite CipherSuite
	ed    ed25519.PrivateKey
	ec    *ecdsa.PrivateKey
	pub   []byte
}

// GenerateSigningKey returns a fresh random signing key of the suite.
func (cs CipherSuite) GenerateSigningKey() (*SigningKey, error) {
	if err := cs.check(); err != nil {
		return nil, err
	}
	if cs == X25519AES128GCMSHA256Ed25519 {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		return &SigningKey{suite: cs, ed: priv, pub: pub}, nil
	}
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return newECDSAKey(cs, priv)
}

// NewSigningKey returns the signing key whose private key is priv: the
// 32-byte seed for Ed25519, the 32-byte big-endian scalar for ECDSA.
func (cs CipherSuite) NewSigningKey(priv []byte) (*SigningKey, error) {
	if err := cs.check(); err != nil {
		return nil, err
	}
	if cs == X25519AES128GCMSHA256Ed25519 {
		if len(priv) != ed25519.SeedSize {
			return nil, fmt.Errorf("%w: Ed25519 seed of %d bytes", ErrBadKey, len(priv))
		}
		k := ed25519.NewKeyFromSeed(priv)
		return &SigningKey{suite: cs, ed: k, pub: k.Public().(ed25519.PublicKey)}, nil
	}
	k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), priv)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	return newECDSAKey(cs, k)
}

func newECDSAKey(cs CipherSuite, k *ecdsa.PrivateKey) (*SigningKey, error) {
	pub, err := k.PublicKey.Bytes()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	return &SigningKey{suite: cs, ec: k, pub: pub}, nil
}

// Public returns the signature public key as MLS encodes it: 32 bytes for
// Ed25519, the 65-byte uncompressed point for P-256. The caller must not
// modify it.
func (k *SigningKey) Public() []byte { return k.pub }

// Bytes returns the private key in the form NewSigningKey takes.
func (k *SigningKey) Bytes() ([]byte, error) {
	if k.ed != nil {
		return k.ed.Seed(), nil
	}
	return k.ec.Bytes()
}

// sign signs msg: Ed25519 over msg, or ECDSA over SHA-256(msg) in DER.
func (k *SigningKey) sign(msg []byte) ([]byte, error) {
	if k.ed != nil {
		return ed25519.Sign(k.ed, msg), nil
	}
	h := sha256.Sum256(msg)
	return ecdsa.SignASN1(rand.Reader, k.ec, h[:])
}

// SignWithLabel signs SignContent{"MLS 1.0 "+label, content} with key
// (RFC 9420 section 5.1.2).
func (cs CipherSuite) SignWithLabel(key *SigningKey, label string, content []byte) ([]byte, error) {
	if key.suite != cs {
		return nil, fmt.Errorf("%w: %v key used with %v", ErrBadKey, key.suite, cs)
	}
	msg, err := labeled("MLS 1.0 "+label, content)
	if err != nil {
		return nil, err
	}
	return key.sign(msg)
}

// VerifyWithLabel checks sig, made by SignWithLabel with the private key of
// pub. It returns an error wrapping ErrBadSignature if the signature does
// not verify, or ErrBadKey if pub is not a key of the suite.
func (cs CipherSuite) VerifyWithLabel(pub []byte, label string, content, sig []byte) error {
	if err := cs.check(); err != nil {
		return err
	}
	msg, err := labeled("MLS 1.0 "+label, content)
	if err != nil {
		return err
	}
	if cs == X25519AES128GCMSHA256Ed25519 {
		if len(pub) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: Ed25519 public key of %d bytes", ErrBadKey, len(pub))
		}
		if !ed25519.Verify(pub, msg, sig) {
			return fmt.Errorf("%w: %s", ErrBadSignature, label)
		}
		return nil
	}
	k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pub)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	h := sha256.Sum256(msg)
	if !ecdsa.VerifyASN1(k, h[:], sig) {
		return fmt.Errorf("%w: %s", ErrBadSignature, label)
	}
	return nil
}

// HPKEKey is an HPKE key pair of a cipher suite's KEM: the init key of a
// key package, the encryption key of a leaf or of a parent node. It is
// safe for concurrent use.
type HPKEKey struct {
	suite CipherSuite
	priv  hpke.PrivateKey
	raw   []byte // the private key as NewHPKEKey takes it
	pub   []byte
}

// GenerateHPKEKey returns a fresh random HPKE key pair of the suite.
func (cs CipherSuite) GenerateHPKEKey() (*HPKEKey, error) {
	if err := cs.check(); err != nil {
		return nil, err
	}
	k, err := cs.kem().GenerateKey()
	if err != nil {
		return nil, err
	}
	return cs.hpkeKey(k)
}

// NewHPKEKey returns the HPKE key pair whose private key is priv, as
// RFC 9180's SerializePrivateKey writes it (32 bytes for both suites).
func (cs CipherSuite) NewHPKEKey(priv []byte) (*HPKEKey, error) {
	if err := cs.check(); err != nil {
		return nil, err
	}
	k, err := cs.kem().NewPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	return cs.hpkeKey(k)
}

// DeriveHPKEKey returns KEM.DeriveKeyPair(secret) (RFC 9180 section 7.1.3),
// as MLS derives node keys from node secrets and the external key from
// the external secret.
func (cs CipherSuite) DeriveHPKEKey(secret []byte) (*HPKEKey, error) {
	if err := cs.check(); err != nil {
		return nil, err
	}
	k, err := cs.kem().DeriveKeyPair(secret)
	if err != nil {
		return nil, err
	}
	return cs.hpkeKey(k)
}

func (cs CipherSuite) hpkeKey(k hpke.PrivateKey) (*HPKEKey, error) {
	raw, err := k.Bytes()
	if err != nil {
		return nil, err
	}
	return &HPKEKey{suite: cs, priv: k, raw: raw, pub: k.PublicKey().Bytes()}, nil
}

// Public returns the HPKE public key as MLS encodes it (32 bytes for
// X25519, the 65-byte uncompressed point for P-256). The caller must not
// modify it.
func (k *HPKEKey) Public() []byte { return k.pub }

// Bytes returns the private key in the form NewHPKEKey takes.
func (k *HPKEKey) Bytes() []byte { return append([]byte(nil), k.raw...) }

// EncryptWithLabel encrypts plaintext to pub with HPKE base mode, the info
// being EncryptContext{"MLS 1.0 "+label, context} and the AAD empty (RFC
// 9420 section 5.1.3). It returns the KEM output and the ciphertext.
func (cs CipherSuite) EncryptWithLabel(pub []byte, label string, context, plaintext []byte) (kemOutput, ciphertext []byte, err error) {
	if err := cs.check(); err != nil {
		return nil, nil, err
	}
	pk, err := cs.kem().NewPublicKey(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	info, err := labeled("MLS 1.0 "+label, context)
	if err != nil {
		return nil, nil, err
	}
	enc, s, err := hpke.NewSender(pk, hpke.HKDFSHA256(), hpke.AES128GCM(), info)
	if err != nil {
		return nil, nil, err
	}
	ct, err := s.Seal(nil, plaintext)
	if err != nil {
		return nil, nil, err
	}
	return enc, ct, nil
}

// DecryptWithLabel opens what EncryptWithLabel sealed to the key's public
// key with the same label and context. It returns an error wrapping
// ErrDecrypt if the ciphertext does not open.
func (k *HPKEKey) DecryptWithLabel(label string, context, kemOutput, ciphertext []byte) ([]byte, error) {
	info, err := labeled("MLS 1.0 "+label, context)
	if err != nil {
		return nil, err
	}
	r, err := hpke.NewRecipient(kemOutput, k.priv, hpke.HKDFSHA256(), hpke.AES128GCM(), info)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrDecrypt, label, err)
	}
	pt, err := r.Open(nil, ciphertext)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrDecrypt, label, err)
	}
	return pt, nil
}
