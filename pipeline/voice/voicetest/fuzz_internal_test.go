package voicetest

import (
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
	"net"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
	"github.com/stretchr/testify/require"
)

// FuzzDatagram feeds the server's UDP packet parser garbage and mutated
// real packets: no panic, every datagram counted exactly once, and a
// packet is handed on only if it authenticates under the session's key.
func FuzzDatagram(f *testing.F) {
	key := make([]byte, 32)
	c, err := sink.NewCipher(voice.ModeAES256GCM, key)
	require.NoError(f, err)
	s := sink.NewSender(nil, sink.NewPacketizer(1), sink.WithCipher(c), sink.WithExtension(0xbede, func(dst []byte, _ opus.Packet) []byte {
		return append(dst, 0x10, 0xaa)
	}))
	good, err := s.Build(opus.Packet{Data: []byte{0xfc, 1, 2, 3}, Samples: 960})
	require.NoError(f, err)
	f.Add(append([]byte(nil), good...))
	f.Add(voice.DiscoveryRequest(1))
	f.Add(voice.DiscoveryRequest(2))
	f.Add([]byte{0x80, 0x78, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1})

	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(f, err)
	defer udp.Close()
	to := udp.LocalAddr().(*net.UDPAddr).AddrPort() // replies go to a socket nobody reads
	f.Fuzz(func(t *testing.T, p []byte) {
		handed := 0
		srv := &Server{udp: udp, cfg: serverConfig{onPacket: func(ss *Session, o sink.Opened, _ time.Time) {
			require.LessOrEqual(t, len(o.Payload), len(p))
			handed++
		}}}
		ss := &Session{srv: srv, SSRC: 1}
		ciph, err := sink.NewCipher(voice.ModeAES256GCM, key)
		require.NoError(t, err)
		ss.udp.Store(&udpState{recv: sink.NewReceiver(ciph), mode: voice.ModeAES256GCM})
		srv.bySSRC.Store(uint32(1), ss)
		var reply []byte
		srv.handleDatagram(append([]byte(nil), p...), to, &reply)
		st := srv.Stats()
		require.Equal(t, int64(1), st.Packets+st.Rejected+st.Discovery+st.KeepAlives)
		require.Equal(t, st.Packets, int64(handed))
	})
}
