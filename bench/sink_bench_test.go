package bench

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
	"github.com/streamcatcher/streamcatcher/pipeline/sink/webrtcsink"
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

// BenchmarkWebRTCWrite sends one packet to 16 pion peers on loopback, on
// one goroutine: through our Peers (each its own lock-free track, the
// write a Fanout's shard makes) and through one pion TrackLocalStaticRTP
// bound to every peer, pion's own way to send one track to many. An
// operation is one packet to every peer; the SRTP encryption per peer is
// most of it. The receivers do not read their tracks.
func BenchmarkWebRTCWrite(b *testing.B) {
	const peers = 16
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	w, err := webrtcsink.NewServer(conn, webrtcsink.WithLoopback())
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	var ours []*webrtcsink.Peer
	for range peers {
		r := newBenchReceiver(b)
		defer r.Close()
		p, answer, err := w.Answer(context.Background(), *r.LocalDescription())
		if err != nil {
			b.Fatal(err)
		}
		if err := r.SetRemoteDescription(answer); err != nil {
			b.Fatal(err)
		}
		ours = append(ours, p)
	}

	// pion's way: a static track, added to peers of a plain pion API.
	static, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "audio", "pion")
	if err != nil {
		b.Fatal(err)
	}
	var connected []chan struct{}
	for range peers {
		srv := newBenchPC(b) // a pion peer that sends
		defer srv.Close()
		if _, err := srv.AddTrack(static); err != nil {
			b.Fatal(err)
		}
		up := make(chan struct{})
		var once sync.Once
		srv.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			if s == webrtc.PeerConnectionStateConnected {
				once.Do(func() { close(up) })
			}
		})
		connected = append(connected, up)
		r := newBenchReceiver(b)
		defer r.Close()
		if err := srv.SetRemoteDescription(*r.LocalDescription()); err != nil {
			b.Fatal(err)
		}
		setLocal(b, srv, func() (webrtc.SessionDescription, error) { return srv.CreateAnswer(nil) })
		if err := r.SetRemoteDescription(*srv.LocalDescription()); err != nil {
			b.Fatal(err)
		}
	}
	for _, p := range ours {
		<-p.Connected()
	}
	for _, up := range connected {
		<-up
	}
	time.Sleep(100 * time.Millisecond) // SRTP starts just after

	payload := make([]byte, benchPayload)
	b.Run("design=peers", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			for _, p := range ours {
				if err := p.Send(opus.Packet{Data: payload, Samples: 960, Timestamp: int64(i) * 960}); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N*peers)/b.Elapsed().Seconds(), "pkts/s")
	})
	b.Run("design=pion-static-track", func(b *testing.B) {
		b.ReportAllocs()
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2}, Payload: payload}
		for i := 0; b.Loop(); i++ {
			pkt.SequenceNumber++
			pkt.Timestamp += 960
			if err := static.WriteRTP(pkt); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*peers)/b.Elapsed().Seconds(), "pkts/s")
	})
}

// newBenchReceiver is a pion peer on loopback with a recvonly audio
// transceiver and its offer set.
func newBenchReceiver(b *testing.B) *webrtc.PeerConnection {
	pc := newBenchPC(b)
	if _, err := pc.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
		b.Fatal(err)
	}
	setLocal(b, pc, func() (webrtc.SessionDescription, error) { return pc.CreateOffer(nil) })
	return pc
}

// setLocal sets pc's local description to what create makes (an offer or
// an answer), and waits for every candidate to be in it.
func setLocal(b *testing.B, pc *webrtc.PeerConnection, create func() (webrtc.SessionDescription, error)) {
	sdp, err := create()
	if err != nil {
		b.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(sdp); err != nil {
		b.Fatal(err)
	}
	<-gathered
}

// newBenchPC is a pion PeerConnection on loopback UDP.
func newBenchPC(b *testing.B) *webrtc.PeerConnection {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		b.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		b.Fatal(err)
	}
	return pc
}
