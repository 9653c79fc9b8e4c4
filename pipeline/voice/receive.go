package voice

import (
	"encoding/binary"
	"errors"
	"net"
	"os"
	"time"

	"github.com/streamcatcher/streamcatcher/pipeline/sink"
)

// maxSenders bounds the receivers a session's reader keeps, one per
// SSRC heard; past it they are forgotten and made anew (a replay window
// lost, which authentication still guards).
const maxSenders = 256

// maxHeld bounds the packets kept per SSRC whose user is not known yet
// (its Speaking, on the control connection, may come after its first
// packets): a second of 20 ms packets.
const maxHeld = 50

// read reads udp, tx's session's socket, until it is closed: each
// datagram from another user is opened under the session's key (a
// replay window per SSRC), decrypted end to end with the
// FrameDecryptor, and delivered on Receive's channel with its sender's
// user ID, never blocking: a full channel drops it, counted. Packets of
// an SSRC whose user is not known yet are held (a bounded number) until
// its Speaking comes, which wakes the reader through a read deadline.
func (c *Conn) read(tx *transport, udp *net.UDPConn) {
	defer c.wg.Done()
	ciph, err := sink.NewCipher(tx.mode, tx.key[:])
	if err != nil {
		return // checked at the handshake
	}
	recvs := make(map[uint32]*sink.Receiver)
	held := make(map[uint32][]Received)
	buf := make([]byte, 2048)
	for {
		n, err := udp.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || c.ctx.Err() != nil {
				return
			}
			if errors.Is(err, os.ErrDeadlineExceeded) { // a user made known
				_ = udp.SetReadDeadline(time.Time{})
				c.release(held, 0)
				continue
			}
			time.Sleep(10 * time.Millisecond) // an ICMP error: the next read may be good
			continue
		}
		p := buf[:n]
		if n < sink.HeaderSize || IsDiscovery(p) || IsKeepAlive(p) || (p[1] >= 200 && p[1] <= 204) {
			continue // not audio: discovery, keep-alive, RTCP
		}
		ssrc := binary.BigEndian.Uint32(p[8:])
		r, known := recvs[ssrc]
		if !known {
			if len(recvs) >= maxSenders {
				clear(recvs)
			}
			r = sink.NewReceiver(ciph)
		}
		o, err := r.OpenPacket(p)
		if err != nil {
			c.stats.undecryptable.Add(1)
			continue
		}
		recvs[ssrc] = r
		pkt := Received{SSRC: ssrc, Sequence: o.Sequence, Timestamp: o.Timestamp, Marker: o.Marker, Opus: o.Payload, Extension: o.Ext}
		user := c.userOf(ssrc)
		if user == "" {
			if len(held) >= maxSenders {
				clear(held)
			}
			if len(held[ssrc]) >= maxHeld {
				c.stats.receiveDropped.Add(1)
				held[ssrc] = held[ssrc][1:]
			}
			pkt.Opus = append([]byte(nil), pkt.Opus...)
			if pkt.Extension != nil {
				pkt.Extension = append([]byte(nil), pkt.Extension...)
			}
			held[ssrc] = append(held[ssrc], pkt)
			continue
		}
		c.release(held, ssrc)
		pkt.UserID = user
		c.deliver(pkt)
	}
}

// release delivers the held packets of the SSRCs whose user is now
// known: ssrc's alone, or all when ssrc is 0.
func (c *Conn) release(held map[uint32][]Received, ssrc uint32) {
	for s, pkts := range held {
		if ssrc != 0 && s != ssrc {
			continue
		}
		user := c.userOf(s)
		if user == "" {
			continue
		}
		for _, p := range pkts {
			p.UserID = user
			c.deliver(p)
		}
		delete(held, s)
	}
}

// deliver decrypts p end to end and puts it on Receive's channel, or
// drops it, counted.
func (c *Conn) deliver(p Received) {
	frame := p.Opus
	if c.cfg.decrypt != nil {
		var err error
		if frame, err = c.cfg.decrypt.Decrypt(p.UserID, frame); err != nil {
			c.stats.decryptFailed.Add(1)
			return
		}
	}
	p.Opus = append([]byte(nil), frame...)
	if p.Extension != nil {
		p.Extension = append([]byte(nil), p.Extension...)
	}
	c.stats.received.Add(1) // before the receiver can see it
	select {
	case c.recv <- p:
	default:
		c.stats.received.Add(-1)
		c.stats.receiveDropped.Add(1)
	}
}
