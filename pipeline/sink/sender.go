package sink

import (
	"errors"
	"fmt"
	"net"
	"sync/atomic"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// MaxPacket is the largest RTP packet a Sender builds: a header, the
// largest Opus packet (1275 bytes of frame data for 20 ms; a 120 ms
// packet of six frames stays under this too) and the encryption's
// overhead, under the usual 1500-byte path MTU.
const MaxPacket = 1500 - 28

// ErrTooLarge is returned for a packet that does not fit in MaxPacket.
var ErrTooLarge = errors.New("sink: packet too large for one datagram")

// PacketWriter takes one datagram per call, such as a connected
// *net.UDPConn or a Batch's writer for one address.
type PacketWriter interface {
	Write(b []byte) (int, error)
}

// Sender sends a player's packets as RTP: numbered by a Packetizer, each
// frame optionally encrypted end to end by a FrameEncryptor, then sealed
// by a Cipher (when one is set) under a counter that advances per packet.
// Send has the shape of a Broadcast's paced callback. A Sender is used by
// one goroutine.
type Sender struct {
	w       PacketWriter
	pz      *Packetizer
	c       *Cipher
	fe      FrameEncryptor
	counter uint32
	nonce   nonce
	buf     []byte
	frame   []byte
	sent    int64
	profile uint16
	ext     func(dst []byte, pkt opus.Packet) []byte
}

// SenderOption configures a Sender.
type SenderOption func(*Sender)

// WithCipher seals every packet with c (Discord's rtpsize modes).
func WithCipher(c *Cipher) SenderOption { return func(s *Sender) { s.c = c } }

// WithFrameEncryptor encrypts every frame with fe before transport
// encryption (an end-to-end layer such as DAVE).
func WithFrameEncryptor(fe FrameEncryptor) SenderOption { return func(s *Sender) { s.fe = fe } }

// WithExtension adds a header extension to every packet (RFC 3550's X
// bit): ext appends the extension's body for pkt to dst and returns it,
// and the Sender pads it to whole 32-bit words; profile is its 16-bit
// profile (0xBEDE for RFC 8285's one-byte elements, as Discord's clients
// send). In the rtpsize modes the body is encrypted with the frame, and a
// Receiver's OpenPacket returns it.
func WithExtension(profile uint16, ext func(dst []byte, pkt opus.Packet) []byte) SenderOption {
	return func(s *Sender) { s.profile, s.ext = profile, ext }
}

// WithCounter sets the first encryption counter (default 0).
func WithCounter(n uint32) SenderOption { return func(s *Sender) { s.counter = n } }

// NewSender returns a Sender writing to w, numbering with pz.
func NewSender(w PacketWriter, pz *Packetizer, opts ...SenderOption) *Sender {
	s := &Sender{w: w, pz: pz, buf: make([]byte, 0, MaxPacket+Overhead)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Packetizer returns the sender's Packetizer.
func (s *Sender) Packetizer() *Packetizer { return s.pz }

// Sent returns the number of packets sent.
func (s *Sender) Sent() int64 { return s.sent }

// Build numbers pkt and returns the datagram for it, encrypted as
// configured; the slice is reused by the next call.
func (s *Sender) Build(pkt opus.Packet) ([]byte, error) {
	frame := pkt.Data
	if s.fe != nil {
		n := s.fe.MaxEncryptedFrameSize(len(frame))
		if cap(s.frame) < n {
			s.frame = make([]byte, n)
		}
		m, err := s.fe.Encrypt(s.pz.SSRC(), frame, s.frame[:n])
		if err != nil {
			return nil, fmt.Errorf("sink: frame encryption: %w", err)
		}
		if m < 0 || m > n {
			return nil, fmt.Errorf("sink: frame encryption wrote %d bytes of %d", m, n)
		}
		frame = s.frame[:m]
	}
	b := s.buf[:HeaderSize]
	if s.ext != nil {
		b = append(b, byte(s.profile>>8), byte(s.profile), 0, 0)
		b = s.ext(b, pkt)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		// Its length in words fits: MaxPacket bounds it below.
		words := (len(b) - HeaderSize - 4) / 4
		b[HeaderSize+2], b[HeaderSize+3] = byte(words>>8), byte(words)
		s.buf = b[:0] // keep what ext grew
	}
	size := len(b) + len(frame)
	if s.c != nil {
		size += Overhead
	}
	if size > MaxPacket {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, size)
	}
	h := s.pz.Next(pkt)
	h.Marshal(b)
	if s.ext != nil {
		b[0] |= 0x10
	}
	b = append(b, frame...)
	if s.c != nil {
		var err error
		if b, err = s.c.seal(b[:0], b, s.counter, &s.nonce); err != nil {
			return nil, err
		}
		s.counter++
	}
	return b, nil
}

// Send builds the datagram for pkt and writes it.
func (s *Sender) Send(pkt opus.Packet) error {
	b, err := s.Build(pkt)
	if err != nil {
		return err
	}
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	s.sent++
	return nil
}

// Batch sends many datagrams, to many addresses, from one UDP socket in
// as few system calls as the platform allows (sendmmsg on Linux, through
// golang.org/x/net; one call per datagram elsewhere). Datagrams are
// copied in and go out at Flush or when the batch is full. A Batch is used
// by one goroutine (a scheduler shard's, whose listeners share its
// socket), so no lock is held across the system call; Stats may be read
// from any goroutine.
type Batch struct {
	v4   *ipv4.PacketConn
	v6   *ipv6.PacketConn
	msgs []ipv4.Message // ipv6.Message is the same type
	bufs [][]byte
	n    int
	sys  atomic.Int64 // system calls made
	sent atomic.Int64 // datagrams sent
}

// NewBatch returns a Batch of up to size datagrams on conn.
func NewBatch(conn *net.UDPConn, size int) *Batch {
	size = max(size, 1)
	b := &Batch{msgs: make([]ipv4.Message, size), bufs: make([][]byte, size)}
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil && a.IP != nil && !a.IP.IsUnspecified() {
		b.v6 = ipv6.NewPacketConn(conn)
	} else {
		b.v4 = ipv4.NewPacketConn(conn)
	}
	for i := range b.bufs {
		b.bufs[i] = make([]byte, 0, MaxPacket+Overhead)
		b.msgs[i].Buffers = [][]byte{nil}
	}
	return b
}

// WriteTo queues a copy of p for addr, flushing first if the batch is full.
func (b *Batch) WriteTo(p []byte, addr *net.UDPAddr) error {
	if len(p) > MaxPacket+Overhead {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(p))
	}
	if b.n == len(b.msgs) {
		if err := b.Flush(); err != nil {
			return err
		}
	}
	b.bufs[b.n] = append(b.bufs[b.n][:0], p...)
	b.msgs[b.n].Buffers[0] = b.bufs[b.n]
	b.msgs[b.n].Addr = addr
	b.n++
	return nil
}

// Flush sends what is queued; after an error, what was not sent is
// dropped, as a lost datagram would be.
func (b *Batch) Flush() error {
	msgs := b.msgs[:b.n]
	b.n = 0
	for len(msgs) > 0 {
		var k int
		var err error
		if b.v6 != nil {
			k, err = b.v6.WriteBatch(msgs, 0)
		} else {
			k, err = b.v4.WriteBatch(msgs, 0)
		}
		b.sys.Add(1)
		if err != nil {
			return fmt.Errorf("sink: batch send: %w", err)
		}
		if k <= 0 {
			return fmt.Errorf("sink: batch send wrote nothing")
		}
		b.sent.Add(int64(k))
		msgs = msgs[k:]
	}
	return nil
}

// Stats returns the datagrams sent and the system calls that sent them.
func (b *Batch) Stats() (datagrams, calls int64) {
	return b.sent.Load(), b.sys.Load()
}

// To returns a PacketWriter that queues every datagram for addr.
func (b *Batch) To(addr *net.UDPAddr) PacketWriter { return batchTo{b, addr} }

type batchTo struct {
	b    *Batch
	addr *net.UDPAddr
}

func (w batchTo) Write(p []byte) (int, error) {
	if err := w.b.WriteTo(p, w.addr); err != nil {
		return 0, err
	}
	return len(p), nil
}
