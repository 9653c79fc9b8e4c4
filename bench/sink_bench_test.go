package bench

import (
	"fmt"
	"net"
	"testing"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
)

// benchPayload is the size of a 20 ms Opus packet at 128 kbit/s.
const benchPayload = 320

// BenchmarkSealPacket is the encryption cost of one packet: Build with
// no cipher (numbering and the header alone) and with each rtpsize mode.
func BenchmarkSealPacket(b *testing.B) {
	pkt := opus.Packet{Data: make([]byte, benchPayload), Samples: 960}
	for _, mode := range []string{"none", sink.ModeAES256GCM, sink.ModeXChaCha20Poly1305} {
		b.Run("mode="+mode, func(b *testing.B) {
			var opts []sink.SenderOption
			if mode != "none" {
				c, err := sink.NewCipher(mode, make([]byte, sink.KeySize))
				if err != nil {
					b.Fatal(err)
				}
				opts = append(opts, sink.WithCipher(c))
			}
			s := sink.NewSender(nil, sink.NewPacketizer(1), opts...)
			b.SetBytes(benchPayload)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				pkt.Timestamp = int64(i) * 960
				if _, err := s.Build(pkt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRTPSend sends RTP over loopback UDP from one goroutine, as a
// shard of listeners does: 100 listeners, each its own Sender (SSRC,
// counter, cipher) and address, one socket; with one write per packet and
// with sendmmsg batches of 64. An operation is one packet; pkts/s is per
// core at -cpu 1.
func BenchmarkRTPSend(b *testing.B) {
	const listeners = 100
	var dests []*net.UDPAddr
	for range 4 { // four receiving sockets nobody reads: the kernel drops, as a real network would not, but the send cost is the same
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		dests = append(dests, c.LocalAddr().(*net.UDPAddr))
	}
	pkt := opus.Packet{Data: make([]byte, benchPayload), Samples: 960}
	for _, mode := range []string{"none", sink.ModeAES256GCM, sink.ModeXChaCha20Poly1305} {
		for _, batched := range []bool{false, true} {
			b.Run(fmt.Sprintf("mode=%s/batch=%v", mode, batched), func(b *testing.B) {
				conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
				if err != nil {
					b.Fatal(err)
				}
				defer conn.Close()
				batch := sink.NewBatch(conn, 64)
				senders := make([]*sink.Sender, listeners)
				for i := range senders {
					var opts []sink.SenderOption
					if mode != "none" {
						key := make([]byte, sink.KeySize)
						key[0] = byte(i)
						c, err := sink.NewCipher(mode, key)
						if err != nil {
							b.Fatal(err)
						}
						opts = append(opts, sink.WithCipher(c))
					}
					addr := dests[i%len(dests)]
					var w sink.PacketWriter = batch.To(addr)
					if !batched {
						w = udpTo{conn, addr}
					}
					senders[i] = sink.NewSender(w, sink.NewPacketizer(uint32(i)), opts...)
				}
				b.ReportAllocs()
				n := 0
				for b.Loop() {
					s := senders[n%listeners]
					pkt.Timestamp = int64(n/listeners) * 960
					if err := s.Send(pkt); err != nil {
						b.Fatal(err)
					}
					n++
				}
				if err := batch.Flush(); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "pkts/s")
			})
		}
	}
}

// udpTo writes each datagram with its own system call.
type udpTo struct {
	c    *net.UDPConn
	addr *net.UDPAddr
}

func (u udpTo) Write(p []byte) (int, error) { return u.c.WriteToUDP(p, u.addr) }
