package pipeline

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/transform"
)

// Track.urgent reads t.c, which NewTrack writes after catcher.New has
// already started the fill goroutine: another track's release reads it
// without a happens-before edge.
func TestRegressUrgentRace(t *testing.T) {
	p := NewPool(1)
	if err := p.acquire(context.Background(), func() bool { return false }); err != nil {
		t.Fatal(err)
	}
	released := make(chan struct{})
	go func() { // stands for another track's fill, releasing its slot
		for p.Stats().Waiting == 0 {
			time.Sleep(time.Millisecond)
		}
		p.release()
		close(released)
	}()
	pcm := make([]byte, 48000*4)
	tr, err := NewTrack(bytes.NewReader(pcm), WithPool(p), WithRawPCM(transform.Format{Rate: 48000, Channels: 2, Encoding: transform.S16LE}))
	if err != nil {
		t.Fatal(err)
	}
	<-released
	<-tr.Done()
	tr.Close()
}
