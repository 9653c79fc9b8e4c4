package voicetest_test

import (
	"context"
	"fmt"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
	"github.com/streamcatcher/streamcatcher/pipeline/voice/voicetest"
)

// Two bots in one channel: the server hears the first's packets and
// relays them to the second, which receives them with the sender's user
// ID.
func Example() {
	heard := make(chan string, 1)
	srv := voicetest.NewServer(voicetest.WithPacketHandler(func(s *voicetest.Session, p sink.Opened, _ time.Time) {
		heard <- fmt.Sprintf("server: %s sent %q", s.UserID, p.Payload)
	}))
	defer srv.Close()

	ctx := context.Background()
	su, st := srv.Updates("guild", "speaker")
	speaker, err := voice.Connect(ctx, su, st)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer speaker.Close()
	su, st = srv.Updates("guild", "recorder")
	recorder, err := voice.Connect(ctx, su, st, voice.WithReceive(16))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer recorder.Close()

	_ = speaker.Send(opus.Packet{Data: []byte("hello"), Samples: 960})
	fmt.Println(<-heard)
	r := <-recorder.Receive()
	fmt.Printf("recorder: %s sent %q\n", r.UserID, r.Opus)
	// Output:
	// server: speaker sent "hello"
	// recorder: speaker sent "hello"
}
