package voice_test

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/examples/discordlike/voice"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
)

// A server on loopback and a client that joins a channel and sends three
// packets, which the server authenticates and decrypts.
func Example() {
	heard := make(chan string, 3)
	udp, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	srv, err := voice.NewServer(udp, voice.WithPacketHandler(func(s *voice.Session, p sink.Opened, _ time.Time) {
		heard <- fmt.Sprintf("%s/%s: %q, marker %v", s.ServerID, s.UserID, p.Payload, p.Marker)
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	hs := httptest.NewServer(srv)
	defer hs.Close()

	c, err := voice.Connect(context.Background(), voice.Config{
		URL:      "ws" + strings.TrimPrefix(hs.URL, "http"),
		ServerID: "guild", UserID: "bot", SessionID: "s1", Token: "secret",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println("mode:", c.Mode())
	if err := c.Speaking(voice.SpeakingMicrophone); err != nil {
		fmt.Println(err)
		return
	}
	for i := range 3 {
		_ = c.Send(opus.Packet{Data: []byte{0xfc, byte(i)}, Samples: 960, Timestamp: int64(960 * i)})
		fmt.Println(<-heard)
	}
	// Output:
	// mode: aead_aes256_gcm_rtpsize
	// guild/bot: "\xfc\x00", marker true
	// guild/bot: "\xfc\x01", marker false
	// guild/bot: "\xfc\x02", marker false
}
