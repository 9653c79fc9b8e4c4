package dave

import (
	"crypto/cipher"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// maxRatchets bounds the ratchets a Decryptor keeps at once: each
// transition supersedes the ratchets before it, which expire KeyExpiry
// later, so only a burst of transitions keeps more than two.
const maxRatchets = 8

// Decryptor decrypts the frames of one remote sender. It keeps the
// sender's ratchets: the newest, given at the last transition, and the
// ones it superseded, each until its expiry (KeyExpiry after the
// transition, usually). A frame is tried under the newest ratchet first,
// then the older ones. Under each ratchet a frame must pass, in order:
//
//   - the replay window: a nonce newer than the newest decrypted, or one
//     of the last MaxMissingNonces nonces skipped before it, each once;
//   - the generation checks: not behind the oldest generation kept (the
//     keys of older generations expire KeyExpiry after a newer one
//     decrypts), at most MaxGenerationGap past the newest one decrypted,
//     and no more than the ratchet's age allows at MaxFramesPerSecond
//     (generation ≤ (170 × age in whole seconds) >> 24);
//   - authentication of the truncated tag.
//
// The Opus silence frame is always passed through. A frame that is not an
// encrypted frame (it fails the protocol's frame check) is passed through
// unchanged only while passthrough is allowed (TransitionToPassthroughMode).
// Every refusal returns an error wrapping one of the ErrFrame...,
// ErrGeneration... or ErrNoKeyRatchet sentinels, and is counted in Stats.
//
// The zero value is a Decryptor on the system clock without a ratchet and
// with passthrough not allowed. All methods are safe for concurrent use:
// the session gives ratchets from its goroutine while the receiver
// decrypts; decryptions of one sender are serialised.
type Decryptor struct {
	now func() time.Time // set at construction; nil means time.Now

	mu sync.Mutex // guards the fields up to stats
	// ratchets are the sender's ratchets, oldest first.
	ratchets []*ratchetState
	// passthroughUntil is when passthrough stops being allowed, unless
	// passthroughAlways is set.
	passthroughUntil  time.Time
	passthroughAlways bool
	// scratch holds the recomputed plaintext and tag while a frame is
	// authenticated (and the gathered ciphertext and additional data of a
	// frame with unencrypted ranges); it grows to the largest frame seen.
	scratch []byte

	stats decryptorCounters
}

// DecryptorOption configures a Decryptor.
type DecryptorOption func(*Decryptor)

// WithDecryptorClock makes the Decryptor read the time from now instead
// of time.Now (a test's fake clock): ratchet ages, key expiry and the
// passthrough deadline all follow it.
func WithDecryptorClock(now func() time.Time) DecryptorOption {
	return func(d *Decryptor) { d.now = now }
}

// NewDecryptor returns a Decryptor without a ratchet; the session gives it
// the sender's ratchet with TransitionToKeyRatchet.
func NewDecryptor(opts ...DecryptorOption) *Decryptor {
	d := &Decryptor{}
	for _, o := range opts {
		o(d)
	}
	return d
}

// clock returns the current time on the Decryptor's clock.
func (d *Decryptor) clock() time.Time {
	if d.now == nil {
		return time.Now()
	}
	return d.now()
}

// TransitionToKeyRatchet makes r the sender's newest ratchet, created
// now, and limits the ratchets already held to expiry from now (KeyExpiry
// is the protocol's choice). r may be nil, to expire the old ratchets
// without a new one (a downgrade, the sender's leaving).
func (d *Decryptor) TransitionToKeyRatchet(r *KeyRatchet, expiry time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clock()
	until := now.Add(expiry)
	for _, s := range d.ratchets {
		if s.expiry.IsZero() || until.Before(s.expiry) {
			s.expiry = until
		}
	}
	if r == nil {
		return
	}
	if len(d.ratchets) == maxRatchets {
		d.ratchets[0].erase()
		d.ratchets = slices.Delete(d.ratchets, 0, 1)
	}
	d.ratchets = append(d.ratchets, &ratchetState{
		ratchet:  r,
		created:  now,
		cryptors: make(map[uint32]*genCipher),
	})
}

// TransitionToPassthroughMode allows frames that are not encrypted to
// pass (on: until told otherwise, as during a downgrade), or stops
// allowing them once expiry has passed from now (off; an earlier deadline
// already set is kept). discord.js allows 10 s after an upgrade.
func (d *Decryptor) TransitionToPassthroughMode(on bool, expiry time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if on {
		d.passthroughAlways = true
		return
	}
	until := d.clock().Add(expiry)
	if d.passthroughAlways || until.Before(d.passthroughUntil) {
		d.passthroughUntil = until
	}
	d.passthroughAlways = false
}

// CanPassthrough reports whether a frame that is not encrypted would pass
// now.
func (d *Decryptor) CanPassthrough() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.passthroughAlways || d.clock().Before(d.passthroughUntil)
}

// AppendDecrypt appends the Opus frame that frame carries to dst and
// returns the extended slice: the decrypted frame, or frame itself when it
// is the silence frame or passes through. On error dst is returned
// unchanged, and frame was not played. frame is not modified, and must not
// overlap dst's spare capacity. Whatever frame holds, AppendDecrypt never
// panics and allocates nothing but the scratch space of a frame larger
// than any before (and the error of a refusal).
func (d *Decryptor) AppendDecrypt(dst, frame []byte) ([]byte, error) {
	if isSilence(frame) {
		d.stats.silence.Add(1)
		return append(dst, frame...), nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.clock()
	d.expireLocked(now)
	f, err := parseFrame(frame)
	if err != nil {
		if d.passthroughAlways || now.Before(d.passthroughUntil) {
			d.stats.passthrough.Add(1)
			return append(dst, frame...), nil
		}
		d.stats.count(err)
		return dst, err
	}
	if len(d.ratchets) == 0 {
		d.stats.count(ErrNoKeyRatchet)
		return dst, ErrNoKeyRatchet
	}
	var best error
	for i := len(d.ratchets) - 1; i >= 0; i-- {
		out, err := d.ratchets[i].decrypt(dst, &f, now, &d.scratch)
		if err == nil {
			d.stats.decrypted.Add(1)
			return out, nil
		}
		if best == nil || refusalRank(err) > refusalRank(best) {
			best = err
		}
	}
	d.stats.count(best)
	return dst, best
}

// refusalRank orders the refusals of one frame by several ratchets: the
// error reported is the one that says most about the frame. A replay was
// judged on a nonce the ratchet has seen; a failed tag, on a key the frame
// was tried under; a generation out of range, on its nonce alone.
func refusalRank(err error) int {
	switch {
	case errors.Is(err, ErrFrameReplayed):
		return 3
	case errors.Is(err, ErrFrameAuth):
		return 2
	}
	return 1
}

// expireLocked drops the ratchets whose expiry has passed.
func (d *Decryptor) expireLocked(now time.Time) {
	d.ratchets = slices.DeleteFunc(d.ratchets, func(s *ratchetState) bool {
		if expired(s.expiry, now) {
			s.erase()
			return true
		}
		return false
	})
}

// expired reports whether the expiry t (zero: never) has passed at now.
func expired(t, now time.Time) bool { return !t.IsZero() && t.Before(now) }

// Stats returns the Decryptor's counts so far.
func (d *Decryptor) Stats() DecryptorStats {
	c := &d.stats
	return DecryptorStats{
		Decrypted:         c.decrypted.Load(),
		Passthrough:       c.passthrough.Load(),
		Silence:           c.silence.Load(),
		NotEncrypted:      c.notEncrypted.Load(),
		Truncated:         c.truncated.Load(),
		Malformed:         c.malformed.Load(),
		Replayed:          c.replayed.Load(),
		AuthFailed:        c.authFailed.Load(),
		GenerationTooFar:  c.generationTooFar.Load(),
		GenerationExpired: c.generationExpired.Load(),
		NoKeyRatchet:      c.noKeyRatchet.Load(),
		OtherFailures:     c.other.Load(),
	}
}

// DecryptorStats counts what a Decryptor did with the frames it was given:
// frames played (Decrypted, Passthrough, Silence), and each kind of
// refusal under the name of its error.
type DecryptorStats struct {
	// Decrypted is the number of frames decrypted.
	Decrypted uint64
	// Passthrough is the number of unencrypted frames passed through
	// while passthrough was allowed.
	Passthrough uint64
	// Silence is the number of silence frames passed through.
	Silence uint64
	// NotEncrypted counts ErrFrameNotEncrypted.
	NotEncrypted uint64
	// Truncated counts ErrFrameTruncated.
	Truncated uint64
	// Malformed counts ErrFrameMalformed.
	Malformed uint64
	// Replayed counts ErrFrameReplayed.
	Replayed uint64
	// AuthFailed counts ErrFrameAuth.
	AuthFailed uint64
	// GenerationTooFar counts ErrGenerationTooFar.
	GenerationTooFar uint64
	// GenerationExpired counts ErrGenerationExpired and ErrKeyErased.
	GenerationExpired uint64
	// NoKeyRatchet counts ErrNoKeyRatchet.
	NoKeyRatchet uint64
	// OtherFailures counts refusals of no kind above (a key that could
	// not be derived); it stays 0 unless something is badly wrong.
	OtherFailures uint64
}

// Refused returns the number of frames refused, of every kind.
func (s DecryptorStats) Refused() uint64 {
	return s.NotEncrypted + s.Truncated + s.Malformed + s.Replayed + s.AuthFailed +
		s.GenerationTooFar + s.GenerationExpired + s.NoKeyRatchet + s.OtherFailures
}

// decryptorCounters are the counts behind DecryptorStats; each is
// incremented with an atomic add and read with a load.
type decryptorCounters struct {
	decrypted, passthrough, silence                   atomic.Uint64
	notEncrypted, truncated, malformed                atomic.Uint64
	replayed, authFailed                              atomic.Uint64
	generationTooFar, generationExpired, noKeyRatchet atomic.Uint64
	other                                             atomic.Uint64
}

// count counts the refusal err under its kind.
func (c *decryptorCounters) count(err error) {
	switch {
	case errors.Is(err, ErrFrameNotEncrypted):
		c.notEncrypted.Add(1)
	case errors.Is(err, ErrFrameTruncated):
		c.truncated.Add(1)
	case errors.Is(err, ErrFrameMalformed):
		c.malformed.Add(1)
	case errors.Is(err, ErrFrameReplayed):
		c.replayed.Add(1)
	case errors.Is(err, ErrFrameAuth):
		c.authFailed.Add(1)
	case errors.Is(err, ErrGenerationTooFar):
		c.generationTooFar.Add(1)
	case errors.Is(err, ErrGenerationExpired), errors.Is(err, ErrKeyErased):
		c.generationExpired.Add(1)
	case errors.Is(err, ErrNoKeyRatchet):
		c.noKeyRatchet.Add(1)
	default:
		c.other.Add(1)
	}
}

// ratchetState is what a Decryptor keeps of one ratchet of the sender
// (libdave's CryptorManager). It is guarded by the Decryptor's mutex.
type ratchetState struct {
	ratchet *KeyRatchet
	// created is when the ratchet was given; its age bounds the
	// generation a frame may claim.
	created time.Time
	// expiry is when the ratchet is dropped; zero while it is the newest.
	expiry time.Time
	// oldest and newest are the oldest generation kept and the newest
	// generation decrypted (0 before any).
	oldest, newest uint32
	// cryptors are the ciphers of the generations in use.
	cryptors map[uint32]*genCipher
	// haveNonce is set once a frame has decrypted; newestNonce is then the
	// newest nonce decrypted, generation included (generation<<24 |
	// nonce's low 24 bits).
	haveNonce   bool
	newestNonce uint64
	// missing holds, ascending, up to MaxMissingNonces nonces skipped
	// before newestNonce and not decrypted since.
	missing []uint64
}

// genCipher is the cipher of one key generation, and when it expires.
type genCipher struct {
	aead   cipher.AEAD
	expiry time.Time // zero: not superseded
}

// erase forgets the ratchet's keys.
func (s *ratchetState) erase() {
	for g := range s.cryptors {
		s.ratchet.Erase(g)
	}
	clear(s.cryptors)
}

// decrypt appends the plaintext of f to dst if f decrypts under the
// ratchet, checking the replay window and the generation first.
func (s *ratchetState) decrypt(dst []byte, f *frame, now time.Time, scratch *[]byte) ([]byte, error) {
	s.expireGenerations(now)
	gen := wrapGeneration(s.oldest, f.nonce>>generationShift)
	big := uint64(gen)<<generationShift | uint64(f.nonce&(1<<generationShift-1))
	if s.haveNonce && big <= s.newestNonce {
		if _, found := slices.BinarySearch(s.missing, big); !found {
			return dst, fmt.Errorf("%w: nonce %#x of generation %d", ErrFrameReplayed, f.nonce, gen)
		}
	}
	c, err := s.cryptor(gen, now)
	if err != nil {
		return dst, err
	}
	out, ok := open(dst, c.aead, f, scratch)
	if !ok {
		return dst, ErrFrameAuth
	}
	s.decrypted(gen, big, now)
	return out, nil
}

// cryptor returns the cipher of generation gen, making it if it is in the
// range allowed. expireGenerations was called at now.
func (s *ratchetState) cryptor(gen uint32, now time.Time) (*genCipher, error) {
	if uint64(gen) > uint64(s.newest)+MaxGenerationGap {
		// The nonce's 8 bits are read as a generation at or after the
		// oldest kept; one behind it reads as 256 generations later.
		if gen >= generationWrap && gen-generationWrap < s.oldest {
			return nil, fmt.Errorf("%w: generation %d, oldest kept %d", ErrGenerationExpired, gen-generationWrap, s.oldest)
		}
		return nil, fmt.Errorf("%w: generation %d, newest %d", ErrGenerationTooFar, gen, s.newest)
	}
	age := int64(now.Sub(s.created) / time.Second)
	if age < 0 {
		age = 0
	}
	if maxGen := (MaxFramesPerSecond * age) >> generationShift; int64(gen) > maxGen {
		return nil, fmt.Errorf("%w: generation %d from a ratchet %d s old (at most %d)", ErrGenerationTooFar, gen, age, maxGen)
	}
	if c, ok := s.cryptors[gen]; ok {
		return c, nil
	}
	aead, err := newFrameCipher(s.ratchet, gen)
	if err != nil {
		return nil, err
	}
	c := &genCipher{aead: aead}
	if gen < s.newest {
		// A frame reordered behind a newer generation: its key was
		// superseded already.
		c.expiry = now.Add(KeyExpiry)
	}
	s.cryptors[gen] = c
	return c, nil
}

// expireGenerations drops the ciphers whose expiry has passed, and moves
// oldest up past the generations with no cipher, erasing their keys.
func (s *ratchetState) expireGenerations(now time.Time) {
	for g, c := range s.cryptors {
		if expired(c.expiry, now) {
			delete(s.cryptors, g)
		}
	}
	for s.oldest < s.newest {
		if _, ok := s.cryptors[s.oldest]; ok {
			break
		}
		s.ratchet.Erase(s.oldest)
		s.oldest++
	}
}

// decrypted records that the frame of nonce big (generation gen)
// decrypted: it moves the replay window, and a newer generation
// supersedes the older ones, which expire KeyExpiry from now.
func (s *ratchetState) decrypted(gen uint32, big uint64, now time.Time) {
	switch {
	case !s.haveNonce:
		s.haveNonce, s.newestNonce = true, big
	case big > s.newestNonce:
		skipped := min(big-s.newestNonce-1, MaxMissingNonces)
		if drop := len(s.missing) + int(skipped) - MaxMissingNonces; drop > 0 {
			s.missing = slices.Delete(s.missing, 0, min(drop, len(s.missing)))
		}
		if s.missing == nil && skipped > 0 {
			s.missing = make([]uint64, 0, MaxMissingNonces)
		}
		for n := big - skipped; n < big; n++ {
			s.missing = append(s.missing, n)
		}
		s.newestNonce = big
	default:
		if i, found := slices.BinarySearch(s.missing, big); found {
			s.missing = slices.Delete(s.missing, i, i+1)
		}
	}
	if gen <= s.newest {
		return
	}
	s.newest = gen
	until := now.Add(KeyExpiry)
	for g, c := range s.cryptors {
		if g < gen && (c.expiry.IsZero() || until.Before(c.expiry)) {
			c.expiry = until
		}
	}
}

// open appends the plaintext of f to dst if its truncated tag is right
// under aead, and reports whether it was.
//
// Go's GCM will not open with an 8-byte tag (NewGCMWithTagSize takes 12 to
// 16), so the tag is recomputed: GCM encryption is CTR, so sealing the
// ciphertext under the frame's IV gives back the plaintext, and sealing
// that plaintext gives the ciphertext with its full tag, whose first 8
// bytes are compared in constant time. Two seals cost about what two
// openings would, allocate nothing (they write into the scratch space),
// and use the platform's AES-GCM assembly; the plaintext is copied out
// only if the tag is right.
func open(dst []byte, aead cipher.AEAD, f *frame, scratch *[]byte) ([]byte, bool) {
	ct, aad := f.body, []byte(nil)
	n := len(f.body)
	// The scratch space (an IV on the stack would escape through the
	// AEAD interface): the IV (12 bytes), the plaintext (n+16), the
	// recomputed ciphertext and tag (n+16), and for a frame with
	// unencrypted ranges the gathered ciphertext and additional data (n).
	const ivSize = 12
	need := ivSize + 2*(n+gcmTagSize) + n
	if cap(*scratch) < need {
		*scratch = make([]byte, need)
	}
	buf := (*scratch)[:need]
	iv, rest := buf[:ivSize], buf[ivSize:]
	clear(iv[:8])
	binary.LittleEndian.PutUint32(iv[8:], f.nonce)
	pt, sealed, gather := rest[:0:n+gcmTagSize], rest[n+gcmTagSize:n+gcmTagSize:2*(n+gcmTagSize)], rest[2*(n+gcmTagSize):]
	if len(f.ranges) > 0 {
		ct, aad = splitRanges(f, gather)
	}
	pt = aead.Seal(pt, iv, ct, nil)[:len(ct)]
	sealed = aead.Seal(sealed, iv, pt, aad)
	if subtle.ConstantTimeCompare(sealed[len(ct):len(ct)+TagSize], f.tag) != 1 {
		clear(buf)
		return dst, false
	}
	if len(f.ranges) == 0 {
		dst = append(dst, pt...)
	} else {
		dst = interleave(dst, f, pt)
	}
	clear(buf)
	return dst, true
}

// splitRanges gathers the frame's encrypted bytes and the bytes of its
// unencrypted ranges (the additional data) into buf (len(f.body) bytes),
// and returns them. f's ranges were checked by parseFrame.
func splitRanges(f *frame, buf []byte) (ct, aad []byte) {
	// The additional data goes at the end of buf, the ciphertext at the
	// start; together they are the body.
	aadLen := 0
	_ = forRanges(f.ranges, func(_, size int) error { aadLen += size; return nil })
	ct, aad = buf[:0], buf[len(f.body)-aadLen:len(f.body)-aadLen]
	at := 0
	_ = forRanges(f.ranges, func(off, size int) error {
		ct = append(ct, f.body[at:off]...)
		aad = append(aad, f.body[off:off+size]...)
		at = off + size
		return nil
	})
	ct = append(ct, f.body[at:]...)
	return ct, aad
}

// interleave appends the frame rebuilt from its plaintext pt and its
// unencrypted ranges to dst.
func interleave(dst []byte, f *frame, pt []byte) []byte {
	at := 0
	_ = forRanges(f.ranges, func(off, size int) error {
		k := off - at
		dst = append(dst, pt[:k]...)
		pt = pt[k:]
		dst = append(dst, f.body[off:off+size]...)
		at = off + size
		return nil
	})
	return append(dst, pt...)
}
