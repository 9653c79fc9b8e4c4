package sink

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// The encryption modes of Discord's voice transport that remain. The
// xsalsa20 modes and plain aead_aes256_gcm were discontinued and are not
// implemented.
const (
	// ModeAES256GCM is aead_aes256_gcm_rtpsize: AES-256-GCM, a 12-byte
	// nonce. Preferred where the server offers it.
	ModeAES256GCM = "aead_aes256_gcm_rtpsize"
	// ModeXChaCha20Poly1305 is aead_xchacha20_poly1305_rtpsize: a 24-byte
	// nonce. Every server offers it.
	ModeXChaCha20Poly1305 = "aead_xchacha20_poly1305_rtpsize"
)

// KeySize is the size of a secret key in both modes.
const KeySize = 32

// Overhead is what encryption adds to a packet in both modes: the 16-byte
// tag and the 4-byte counter.
const Overhead = 16 + 4

// Errors of encrypted RTP.
var (
	// ErrMode is returned for a mode that is not one of the two.
	ErrMode = errors.New("sink: unsupported encryption mode")
	// ErrShortPacket is returned for a packet too short for its header,
	// its extension, the tag and the counter.
	ErrShortPacket = errors.New("sink: truncated RTP packet")
	// ErrNotRTP is returned for a packet that is not RTP version 2.
	ErrNotRTP = errors.New("sink: not an RTP packet")
	// ErrAuth is returned for a packet that does not authenticate: a wrong
	// key, or bytes changed on the way.
	ErrAuth = errors.New("sink: RTP packet failed authentication")
	// ErrReplay is returned for a counter already seen or too old.
	ErrReplay = errors.New("sink: replayed or old RTP packet")
)

// Cipher seals and opens RTP packets in one of the rtpsize modes: the
// clear header (12 bytes, the CSRCs, and the extension's 4-byte preamble
// when X is set) is the additional data; the extension body and the payload
// are encrypted; the tag follows, then a 4-byte counter that is the first
// 4 bytes of the nonce, the rest zero. A Cipher is safe for concurrent use.
type Cipher struct {
	mode  string
	aead  cipher.AEAD
	order binary.ByteOrder
}

// NewCipher returns a Cipher for mode with the 32-byte session key. The
// counter is written and read big-endian (as discord.js does); see
// WithCounterOrder.
func NewCipher(mode string, key []byte) (*Cipher, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("sink: key of %d bytes, want %d", len(key), KeySize)
	}
	c := &Cipher{mode: mode, order: binary.BigEndian}
	var err error
	switch mode {
	case ModeAES256GCM:
		var b cipher.Block
		if b, err = aes.NewCipher(key); err == nil {
			c.aead, err = cipher.NewGCM(b)
		}
	case ModeXChaCha20Poly1305:
		c.aead, err = chacha20poly1305.NewX(key)
	default:
		return nil, fmt.Errorf("%w: %q", ErrMode, mode)
	}
	if err != nil {
		return nil, fmt.Errorf("sink: %s: %w", mode, err)
	}
	return c, nil
}

// WithCounterOrder returns a copy of c that writes and reads the counter
// in the byte order given: receivers copy the 4 bytes into the nonce
// verbatim, so the order is the sender's choice (disgo and discordgo write
// little-endian). A receiver needs the sender's order only to check for
// replays.
func (c *Cipher) WithCounterOrder(o binary.ByteOrder) *Cipher {
	d := *c
	d.order = o
	return &d
}

// Mode returns the cipher's mode name.
func (c *Cipher) Mode() string { return c.mode }

// clearLen returns the length of the clear part of the RTP packet p and
// the length of the extension body after it.
func clearLen(p []byte) (clear, ext int, err error) {
	if len(p) < HeaderSize {
		return 0, 0, ErrShortPacket
	}
	if p[0]>>6 != 2 {
		return 0, 0, ErrNotRTP
	}
	clear = HeaderSize + 4*int(p[0]&0x0f)
	if p[0]&0x10 != 0 {
		clear += 4
		if len(p) < clear {
			return 0, 0, ErrShortPacket
		}
		ext = 4 * int(binary.BigEndian.Uint16(p[clear-2:]))
	}
	if len(p) < clear {
		return 0, 0, ErrShortPacket
	}
	return clear, ext, nil
}

// Seal appends to dst the encrypted form of the RTP packet p (header and
// payload) under the counter, and returns the result. To encrypt in
// place, pass p[:0] as dst (with Overhead bytes of capacity to spare);
// otherwise dst and p must not overlap. A counter must not be used twice
// with one key.
func (c *Cipher) Seal(dst, p []byte, counter uint32) ([]byte, error) {
	return c.seal(dst, p, counter, new(nonce))
}

// nonce is the largest nonce of the two modes; a Sender keeps one so that
// sealing allocates nothing.
type nonce [chacha20poly1305.NonceSizeX]byte

func (c *Cipher) seal(dst, p []byte, counter uint32, n *nonce) ([]byte, error) {
	clear, _, err := clearLen(p)
	if err != nil {
		return nil, err
	}
	c.order.PutUint32(n[:], counter)
	start := len(dst)
	dst = append(dst, p[:clear]...)
	dst = c.aead.Seal(dst, n[:c.aead.NonceSize()], p[clear:], dst[start:start+clear])
	dst = append(dst, n[:4]...)
	return dst, nil
}

// Open decrypts the packet p in place and returns its clear header, the
// payload with any extension body stripped, and the counter. The slices
// alias p. It never panics, whatever p holds.
func (c *Cipher) Open(p []byte) (header, payload []byte, counter uint32, err error) {
	header, _, payload, counter, err = c.open(p, new(nonce))
	return header, payload, counter, err
}

// open is Open, also returning the decrypted extension body.
func (c *Cipher) open(p []byte, n *nonce) (header, extBody, payload []byte, counter uint32, err error) {
	clear, ext, err := clearLen(p)
	if err != nil {
		return nil, nil, nil, 0, err
	}
	if len(p) < clear+Overhead {
		return nil, nil, nil, 0, ErrShortPacket
	}
	tail := len(p) - 4
	counter = c.order.Uint32(p[tail:])
	copy(n[:4], p[tail:])
	body, err := c.aead.Open(p[clear:clear], n[:c.aead.NonceSize()], p[clear:tail], p[:clear])
	if err != nil {
		return nil, nil, nil, 0, ErrAuth
	}
	if ext > len(body) {
		return nil, nil, nil, 0, fmt.Errorf("%w: extension of %d bytes in %d", ErrShortPacket, ext, len(body))
	}
	if p[0]&0x10 != 0 {
		extBody = body[:ext:ext]
	}
	return p[:clear], extBody, body[ext:], counter, nil
}

// ReplayWindow rejects counters already seen or older than its window of
// 64, as SRTP does: packets reordered within the window are accepted once.
// The zero value is ready; one per sender.
type ReplayWindow struct {
	top    uint32
	bits   uint64 // bit i: top-i seen
	primed bool
}

// Check reports whether counter is new, and records it if so.
func (w *ReplayWindow) Check(counter uint32) bool {
	if !w.primed {
		w.primed, w.top, w.bits = true, counter, 1
		return true
	}
	d := int32(counter - w.top) // serial arithmetic: wraps
	switch {
	case d > 0:
		if d >= 64 {
			w.bits = 0
		} else {
			w.bits <<= uint(d)
		}
		w.top, w.bits = counter, w.bits|1
		return true
	case d > -64:
		bit := uint64(1) << uint(-d)
		if w.bits&bit != 0 {
			return false
		}
		w.bits |= bit
		return true
	}
	return false
}

// Receiver opens the encrypted packets of one sender: it authenticates and
// decrypts them, strips the extension body and rejects replays. Used by one
// goroutine.
type Receiver struct {
	c      *Cipher
	window ReplayWindow
	nonce  nonce
}

// NewReceiver returns a Receiver for packets sealed by c's mode and key.
func NewReceiver(c *Cipher) *Receiver { return &Receiver{c: c} }

// Open decrypts p in place and returns its header and Opus payload.
func (r *Receiver) Open(p []byte) (Header, []byte, error) {
	o, err := r.OpenPacket(p)
	return o.Header, o.Payload, err
}

// Opened is a packet opened by a Receiver. Its slices alias the datagram.
type Opened struct {
	Header
	// ExtProfile and Ext are the header extension's profile and decrypted
	// body (whole words, padding included); Ext is nil without one.
	ExtProfile uint16
	Ext        []byte
	// Payload is the Opus frame, after the extension body.
	Payload []byte
}

// OpenPacket is Open, also returning the packet's header extension.
func (r *Receiver) OpenPacket(p []byte) (Opened, error) {
	hdr, ext, payload, counter, err := r.c.open(p, &r.nonce)
	if err != nil {
		return Opened{}, err
	}
	if !r.window.Check(counter) {
		return Opened{}, fmt.Errorf("%w: counter %d", ErrReplay, counter)
	}
	o := Opened{
		Header: Header{
			PayloadType: hdr[1] & 0x7f,
			Marker:      hdr[1]&0x80 != 0,
			Sequence:    binary.BigEndian.Uint16(hdr[2:]),
			Timestamp:   binary.BigEndian.Uint32(hdr[4:]),
			SSRC:        binary.BigEndian.Uint32(hdr[8:]),
		},
		Ext:     ext,
		Payload: payload,
	}
	if ext != nil {
		o.ExtProfile = binary.BigEndian.Uint16(hdr[len(hdr)-4:])
	}
	return o, nil
}

// FrameEncryptor encrypts each Opus frame end to end before transport
// encryption, shaped like disgo's DAVE session so that one can be plugged
// in. DAVE itself is not implemented here.
type FrameEncryptor interface {
	// MaxEncryptedFrameSize returns the largest output for a frame of
	// frameSize bytes.
	MaxEncryptedFrameSize(frameSize int) int
	// Encrypt writes frame, encrypted for ssrc, into dst and returns the
	// bytes written.
	Encrypt(ssrc uint32, frame, dst []byte) (int, error)
}
