package sink_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"

	"github.com/streamcatcher/streamcatcher/codec/ogg"

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

// queue is a live stream's buffered listener with three packets queued,
// as a pipeline.Broadcast's JoinBuffered gives.
type queue struct{ n int }

func (q *queue) Next() (opus.Packet, error) {
	if q.n == 3 {
		return opus.Packet{}, io.EOF
	}
	q.n++
	return opus.Packet{Data: []byte{0xfc, byte(q.n)}, Samples: 960}, nil
}

func (q *queue) NextContext(context.Context) (opus.Packet, error) { return q.Next() }
func (q *queue) Leave()                                           {}

// An HTTPStream serves a live stream as Ogg Opus, each client from a queue
// of its own: with a Broadcast b, join is
// func() sink.Queue { return b.JoinBuffered() }.
func ExampleHTTPStream() {
	head := ogg.OpusHead{Version: 1, Channels: 2, PreSkip: 312, InputRate: 48000} // a Track's OpusHead
	hs := sink.NewHTTPStream(func() sink.Queue { return &queue{} }, head)
	defer hs.Close()
	srv := httptest.NewServer(hs)
	defer srv.Close()

	resp, err := http.Get(srv.URL)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	r := ogg.NewReader(resp.Body)
	for {
		p, err := r.ReadPacket()
		if err != nil {
			break
		}
		fmt.Println(len(p.Data), p.EOS)
	}
	fmt.Println(resp.Header.Get("Content-Type"), hs.Stats().Packets)
	// Output:
	// 19 false
	// 29 false
	// 2 false
	// 2 false
	// 2 true
	// audio/ogg 3
}
