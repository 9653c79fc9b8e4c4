package dave

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// Encryptor encrypts the Opus frames of one sender, the local user, under
// the key ratchet of the current epoch. Each frame takes the next nonce
// (the first frame of a ratchet uses 1), whose top 8 bits are the key
// generation's low 8 bits; its key is the ratchet's key of that
// generation; the whole frame is encrypted with AES-128-GCM, empty
// additional data, and the tag truncated to TagSize bytes (see the layout
// at TagSize). The Opus silence frame (F8 FF FE) is sent unencrypted, as
// DAVE's receivers expect; in passthrough mode every frame is.
//
// The zero value is an Encryptor without a ratchet, which refuses frames
// (ErrNoKeyRatchet) until SetKeyRatchet or SetPassthroughMode(true). All
// methods are safe for concurrent use: the session sets the ratchet and
// the mode from its own goroutine while the sender encrypts.
//
// Encrypting allocates nothing once the key of a generation is derived
// (once per ratchet and every 2^24 frames after).
type Encryptor struct {
	mu sync.Mutex // guards the fields up to stats
	// ratchet is the current key ratchet; nil until SetKeyRatchet.
	ratchet *KeyRatchet
	// passthrough is set while frames are sent unencrypted.
	passthrough bool
	// nonce is the last nonce used under ratchet (0: none yet).
	nonce uint32
	// gen is the full key generation of aead.
	gen uint32
	// aead is the cipher of generation gen; nil until the first frame of
	// a ratchet.
	aead cipher.AEAD
	// iv is the GCM nonce: 8 zero bytes, then the frame nonce.
	iv [12]byte

	stats encryptorCounters
}

// encryptorCounters are the counts behind EncryptorStats; each is
// incremented with an atomic add and read with a load.
type encryptorCounters struct {
	encrypted, passthrough, silence, failed atomic.Uint64
}

// EncryptorStats counts what an Encryptor did with the frames it was
// given.
type EncryptorStats struct {
	// Encrypted is the number of frames encrypted.
	Encrypted uint64
	// Passthrough is the number of frames copied unencrypted in
	// passthrough mode.
	Passthrough uint64
	// Silence is the number of silence frames copied unencrypted.
	Silence uint64
	// Failed is the number of frames refused (no ratchet, a buffer too
	// small, a key that could not be derived).
	Failed uint64
}

// NewEncryptor returns an Encryptor that encrypts with r; r may be nil
// (see SetKeyRatchet).
func NewEncryptor(r *KeyRatchet) *Encryptor {
	e := &Encryptor{}
	e.SetKeyRatchet(r)
	return e
}

// SetKeyRatchet makes r the ratchet of the frames that follow, whose
// nonces start again at 1; nil leaves the Encryptor without a key. The
// session calls it when it executes a transition (voice opcode 22) or
// resets.
func (e *Encryptor) SetKeyRatchet(r *KeyRatchet) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ratchet, e.nonce, e.gen, e.aead = r, 0, 0, nil
}

// SetPassthroughMode turns passthrough on (frames are copied unencrypted,
// as after a downgrade to protocol version 0) or off.
func (e *Encryptor) SetPassthroughMode(on bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.passthrough = on
}

// Passthrough reports whether the Encryptor is in passthrough mode.
func (e *Encryptor) Passthrough() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.passthrough
}

// Stats returns the Encryptor's counts so far.
func (e *Encryptor) Stats() EncryptorStats {
	return EncryptorStats{
		Encrypted:   e.stats.encrypted.Load(),
		Passthrough: e.stats.passthrough.Load(),
		Silence:     e.stats.silence.Load(),
		Failed:      e.stats.failed.Load(),
	}
}

// MaxEncryptedFrameSize returns the largest encrypted form of a frame of
// frameSize bytes: frameSize+MaxOverhead.
func (e *Encryptor) MaxEncryptedFrameSize(frameSize int) int { return frameSize + MaxOverhead }

// Encrypt writes the encrypted form of frame into dst, which must hold
// MaxEncryptedFrameSize(len(frame)) bytes, and returns the bytes written.
// ssrc is not used (DAVE's Opus frames do not depend on it); the method
// has this shape to be the FrameEncryptor of a pipeline/sink Sender. frame
// and dst must not overlap unless frame starts at dst[0].
func (e *Encryptor) Encrypt(ssrc uint32, frame, dst []byte) (int, error) {
	if need := e.MaxEncryptedFrameSize(len(frame)); len(dst) < need {
		e.stats.failed.Add(1)
		return 0, fmt.Errorf("%w: %d bytes, want %d", ErrFrameBufferTooSmall, len(dst), need)
	}
	out, err := e.AppendEncrypt(dst[:0:len(dst)], frame)
	return len(out), err
}

// AppendEncrypt appends the encrypted form of the Opus frame to dst and
// returns the extended slice; on error dst is returned unchanged. It
// allocates nothing when dst has MaxOverhead bytes of capacity to spare
// past len(frame) (and the generation's key is derived). To encrypt in
// place, pass frame[:0] as dst; otherwise dst's spare capacity must not
// overlap frame.
func (e *Encryptor) AppendEncrypt(dst, frame []byte) ([]byte, error) {
	if isSilence(frame) {
		e.stats.silence.Add(1)
		return append(dst, frame...), nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.passthrough {
		e.stats.passthrough.Add(1)
		return append(dst, frame...), nil
	}
	if e.ratchet == nil {
		e.stats.failed.Add(1)
		return dst, ErrNoKeyRatchet
	}
	nonce := e.nonce + 1
	gen := wrapGeneration(e.gen, nonce>>generationShift)
	if e.aead == nil || gen != e.gen {
		aead, err := newFrameCipher(e.ratchet, gen)
		if err != nil {
			e.stats.failed.Add(1)
			return dst, err
		}
		e.aead, e.gen = aead, gen
	}
	e.nonce = nonce
	binary.LittleEndian.PutUint32(e.iv[8:], nonce)

	// Seal writes the ciphertext and the full 16-byte tag; the frame
	// keeps the tag's first 8 bytes, and the nonce, the size and the
	// marker (at least 4 bytes, at most 8) go over the rest.
	dst = slices.Grow(dst, len(frame)+MaxOverhead)
	start := len(dst)
	dst = e.aead.Seal(dst, e.iv[:], frame, nil)
	dst = dst[:start+len(frame)+TagSize]
	dst = appendULEB128(dst, uint64(nonce))
	supp := TagSize + ulebSize(uint64(nonce)) + 1 + len(marker)
	dst = append(dst, byte(supp), marker[0], marker[1])
	e.stats.encrypted.Add(1)
	return dst, nil
}

// newFrameCipher returns the AES-128-GCM of generation g of r.
func newFrameCipher(r *KeyRatchet, g uint32) (cipher.AEAD, error) {
	key, err := r.Key(g)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key[:])
	clear(key[:])
	if err != nil {
		return nil, fmt.Errorf("dave: frame cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("dave: frame cipher: %w", err)
	}
	return aead, nil
}

// wrapGeneration returns the full key generation whose low 8 bits are
// low (the top byte of a frame's nonce), taking it to be at or after
// oldest: the nonce carries only 8 bits of the generation, and it wraps
// every 256 generations (libdave's ComputeWrappedGeneration).
func wrapGeneration(oldest, low uint32) uint32 {
	base := oldest &^ (generationWrap - 1)
	if low < oldest%generationWrap {
		base += generationWrap
	}
	return base | low
}
