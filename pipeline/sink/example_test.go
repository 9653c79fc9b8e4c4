package sink_test

import (
	"fmt"
	"net"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
)

// A Sender seals each packet the way Discord's voice transport does and
// writes it to a UDP socket; the Receiver at the other end opens it.
func Example() {
	in, _ := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer in.Close()
	out, _ := net.DialUDP("udp4", nil, in.LocalAddr().(*net.UDPAddr))
	defer out.Close()

	key := make([]byte, sink.KeySize) // from the session description
	c, _ := sink.NewCipher(sink.ModeAES256GCM, key)
	s := sink.NewSender(out, sink.NewPacketizer(42), sink.WithCipher(c))
	// A pipeline.Player's Next, or a Broadcast's JoinPaced, gives these.
	_ = s.Send(opus.Packet{Data: []byte(opus.SilenceFrame), Samples: 960})

	buf := make([]byte, 1500)
	n, _, _ := in.ReadFromUDP(buf)
	h, payload, err := sink.NewReceiver(c).Open(buf[:n])
	fmt.Println(h.SSRC, h.Marker, len(payload), err)
	// Output: 42 true 3 <nil>
}
