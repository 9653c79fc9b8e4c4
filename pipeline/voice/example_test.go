package voice_test

import (
	"context"
	"fmt"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
	"github.com/streamcatcher/streamcatcher/pipeline/voice/voicetest"
)

// A bot joins a voice channel of a voicetest server on loopback and sends
// three packets, which the server authenticates and decrypts. On Discord
// the two updates come from the main gateway's VOICE_SERVER_UPDATE and
// VOICE_STATE_UPDATE events.
func Example() {
	heard := make(chan string, 3)
	srv := voicetest.NewServer(voicetest.WithPacketHandler(func(s *voicetest.Session, p sink.Opened, _ time.Time) {
		heard <- fmt.Sprintf("%s/%s: %q, marker %v", s.ServerID, s.UserID, p.Payload, p.Marker)
	}))
	defer srv.Close()

	su := voice.ServerUpdate{Endpoint: srv.Endpoint(), Token: "secret", GuildID: "guild"}
	st := voice.StateUpdate{UserID: "bot", SessionID: "s1", ChannelID: "general"}
	c, err := voice.Connect(context.Background(), su, st)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	fmt.Println("mode:", c.Mode())
	for i := range 3 { // a Scheduler calls Send so: sched.Add(player, c.Send)
		_ = c.Send(opus.Packet{Data: []byte{0xfc, byte(i)}, Samples: 960, Timestamp: int64(960 * i)})
		fmt.Println(<-heard)
	}
	// Output:
	// mode: aead_aes256_gcm_rtpsize
	// guild/bot: "\xfc\x00", marker true
	// guild/bot: "\xfc\x01", marker false
	// guild/bot: "\xfc\x02", marker false
}
