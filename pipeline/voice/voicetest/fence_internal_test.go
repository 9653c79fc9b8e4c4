package voicetest

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEndedSessionHearsQueuedDatagrams: a client's last datagram, sent
// before it closed its control connection, is heard even when the server
// handles the close first; its SSRC is forgotten once the server has read
// what was queued before the end, and a datagram after that is rejected.
func TestEndedSessionHearsQueuedDatagrams(t *testing.T) {
	key := make([]byte, 32)
	c, err := sink.NewCipher(voice.ModeAES256GCM, key)
	require.NoError(t, err)
	sender := sink.NewSender(nil, sink.NewPacketizer(1), sink.WithCipher(c))
	build := func() []byte {
		b, err := sender.Build(opus.Packet{Data: []byte{0xfc, 1, 2, 3}, Samples: 960})
		require.NoError(t, err)
		return append([]byte(nil), b...)
	}

	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	defer udp.Close()
	heard := 0
	srv := &Server{udp: udp, addr: udp.LocalAddr().(*net.UDPAddr).AddrPort(), sessions: map[string]*Session{},
		cfg: serverConfig{onPacket: func(*Session, sink.Opened, time.Time) { heard++ }}}
	ss := &Session{srv: srv, SSRC: 1, ID: "s"}
	ciph, err := sink.NewCipher(voice.ModeAES256GCM, key)
	require.NoError(t, err)
	ss.udp.Store(&udpState{recv: sink.NewReceiver(ciph), mode: voice.ModeAES256GCM})
	srv.bySSRC.Store(uint32(1), ss)
	client := netip.MustParseAddrPort("127.0.0.1:9")

	last := build() // queued in the server's socket before the close
	srv.end(ss, errClientLeft)
	var reply []byte
	srv.handleDatagram(last, client, &reply)
	assert.Equal(t, 1, heard, "the datagram sent before the end")

	// The fence the end sent, read as the UDP goroutine would.
	buf := make([]byte, 64)
	require.NoError(t, udp.SetReadDeadline(time.Now().Add(10*time.Second)))
	n, from, err := udp.ReadFromUDPAddrPort(buf)
	require.NoError(t, err)
	srv.handleDatagram(buf[:n], from, &reply)
	srv.handleDatagram(build(), client, &reply)
	st := srv.Stats()
	assert.Equal(t, 1, heard)
	assert.Equal(t, int64(1), st.Packets)
	assert.Equal(t, int64(1), st.Rejected, "a datagram after the fence: the SSRC is forgotten")
	_, ok := srv.bySSRC.Load(uint32(1))
	assert.False(t, ok)
}
