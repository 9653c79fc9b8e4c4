//go:build cgo

package voice_test

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
	"github.com/streamcatcher/streamcatcher/pipeline/voice/voicetest"
)

// guild is a music bot's audio in one guild: a Queue of the bot's one
// Library, played by the bot's one Scheduler to the guild's voice
// connection. Its command method is what the bot's chat handler calls,
// from whatever goroutine the chat library calls it on: the Queue is
// safe for concurrent use, and no command waits.
type guild struct {
	name string
	q    *pipeline.Queue
	conn *voice.Conn
}

func joinGuild(ctx context.Context, lib *pipeline.Library, sched *pipeline.Scheduler, su voice.ServerUpdate, st voice.StateUpdate) (*guild, error) {
	conn, err := voice.Connect(ctx, su, st)
	if err != nil {
		return nil, err
	}
	g := &guild{name: su.GuildID, conn: conn}
	g.q = pipeline.NewQueue(lib, pipeline.WithEventFunc(g.event))
	sched.AddQueue(g.q, conn.Send) // one listener: no goroutine of the bot's plays it
	return g, nil
}

func (g *guild) leave() {
	g.q.Close()
	g.conn.Close()
}

// event is called on the Scheduler's goroutine, so it must not block: a
// bot that posts events to its chat reads them from a channel instead
// (pipeline.WithEvents and Queue.Events).
func (g *guild) event(e pipeline.Event) {
	name := path.Base(e.Key.Source)
	switch {
	case e.Kind == pipeline.EventStarted:
		fmt.Printf("  %s: started %s\n", g.name, name)
	case e.Kind == pipeline.EventEnded && e.Reason == pipeline.EndFailed:
		fmt.Printf("  %s: %s failed: %v\n", g.name, name, e.Err)
	case e.Kind == pipeline.EventEnded:
		fmt.Printf("  %s: %s ended: %s\n", g.name, name, e.Reason)
	}
}

// command gives the Queue a chat command and returns the reply. Entries
// are named by their IDs: "remove 2" removes the entry the user saw
// second, even if the queue has moved on since.
func (g *guild) command(line string) string {
	cmd, arg, _ := strings.Cut(line, " ")
	st := g.q.State()
	switch cmd {
	case "play":
		g.q.Enqueue(pipeline.Key{Source: arg})
		return "queued " + path.Base(arg)
	case "skip":
		g.q.Skip(1)
		return "skipping"
	case "pause":
		g.q.Pause()
		return "paused"
	case "resume":
		g.q.Resume()
		return "resuming"
	case "seek":
		d, err := time.ParseDuration(arg)
		if err != nil {
			return err.Error()
		}
		g.q.Seek(st.Current.ID, d)
		return "seeking to " + d.String()
	case "loop":
		modes := map[string]pipeline.LoopMode{"off": pipeline.LoopOff, "track": pipeline.LoopTrack, "queue": pipeline.LoopQueue}
		m, ok := modes[arg]
		if !ok {
			return "loop off, track or queue"
		}
		g.q.Loop(m)
		return "loop " + arg
	case "remove":
		i, err := strconv.Atoi(arg)
		if err != nil || i < 1 || i > len(st.Entries) {
			return "no entry " + arg
		}
		g.q.Remove(st.Entries[i-1].ID)
		return "removed " + path.Base(st.Entries[i-1].Key.Source)
	case "np":
		if st.Current.ID == 0 {
			return "nothing playing"
		}
		at := opus.Duration(st.Position).Round(100 * time.Millisecond)
		return fmt.Sprintf("now playing %s at %v, %d queued", path.Base(st.Current.Key.Source), at, len(st.Entries))
	}
	return "unknown command " + cmd
}

// A music bot's core: per guild a Queue on one Library and one
// Scheduler, its voice connection one listener; chat commands mapped to
// the Queue's calls, each answered at once; the Queue's events printed.
// The voice server is voicetest's on loopback; on Discord the updates
// come from the main gateway (see Example_disgo).
func Example_musicBot() {
	ctx := context.Background()
	srv := voicetest.NewServer()
	defer srv.Close()
	lib := pipeline.NewLibrary()
	defer lib.Close()
	clock := pipeline.NewFakeClock(time.Unix(0, 0)) // a bot leaves it out: the system's clock
	sched := pipeline.NewScheduler(pipeline.WithClock(clock), pipeline.WithShards(1))
	defer sched.Close()

	const song, jingle = "../../testdata/prog_48000.mp3", "../../testdata/prog.opus"
	for _, s := range []string{song, jingle} { // so that this output is the same on any machine; a bot never waits
		h, _ := lib.Get(ctx, pipeline.Key{Source: s})
		<-h.Track().Done()
		h.Release()
	}
	guilds := map[string]*guild{}
	for _, name := range []string{"guild-1", "guild-2"} {
		su, st := srv.Updates(name, "bot") // on Discord: VOICE_SERVER_UPDATE, VOICE_STATE_UPDATE
		g, err := joinGuild(ctx, lib, sched, su, st)
		if err != nil {
			panic(err)
		}
		defer g.leave()
		guilds[name] = g
	}

	chat := func(name, line string) { // a chat library calls its handler on a goroutine of its own
		reply := make(chan string)
		go func() { reply <- guilds[name].command(line) }()
		fmt.Printf("%s> %s\n%s\n", name, line, <-reply)
	}
	listen := func(d time.Duration) { // time passes
		for range d / (20 * time.Millisecond) {
			clock.Advance(20 * time.Millisecond)
			clock.BlockUntilWaiting(ctx, 1)
		}
	}
	chat("guild-1", "play "+song)
	chat("guild-1", "play "+jingle)
	chat("guild-2", "play "+song)
	chat("guild-2", "loop track")
	listen(time.Second)
	chat("guild-1", "np")
	chat("guild-1", "seek 2.5s")
	chat("guild-1", "play ../../testdata/missing.mp3")
	chat("guild-1", "remove 1")
	listen(20 * time.Millisecond)   // the queue takes the commands, and loads missing.mp3 ahead
	for lib.Stats().Failures == 0 { // so that this output is the same on any machine; a bot never waits
		time.Sleep(time.Millisecond)
	}
	listen(time.Second - 20*time.Millisecond)
	chat("guild-1", "np")
	chat("guild-2", "np")
	listen(2 * time.Second)
	chat("guild-2", "np")
	chat("guild-2", "pause")
	listen(time.Second)
	chat("guild-2", "np")
	chat("guild-2", "resume")
	chat("guild-2", "skip")
	chat("guild-1", "play "+jingle)
	listen(time.Second)
	fmt.Println("encodes:", lib.Stats().Encodes) // the song, once for both guilds
	// Output:
	// guild-1> play ../../testdata/prog_48000.mp3
	// queued prog_48000.mp3
	// guild-1> play ../../testdata/prog.opus
	// queued prog.opus
	// guild-2> play ../../testdata/prog_48000.mp3
	// queued prog_48000.mp3
	// guild-2> loop track
	// loop track
	//   guild-2: started prog_48000.mp3
	//   guild-1: started prog_48000.mp3
	// guild-1> np
	// now playing prog_48000.mp3 at 1s, 1 queued
	// guild-1> seek 2.5s
	// seeking to 2.5s
	// guild-1> play ../../testdata/missing.mp3
	// queued missing.mp3
	// guild-1> remove 1
	// removed prog.opus
	//   guild-1: prog.opus ended: removed
	//   guild-1: prog_48000.mp3 ended: finished
	//   guild-1: missing.mp3 failed: pipeline: open ../../testdata/missing.mp3: no such file or directory
	// guild-1> np
	// nothing playing
	// guild-2> np
	// now playing prog_48000.mp3 at 2s, 0 queued
	// guild-2> np
	// now playing prog_48000.mp3 at 1s, 0 queued
	// guild-2> pause
	// paused
	// guild-2> np
	// now playing prog_48000.mp3 at 1s, 0 queued
	// guild-2> resume
	// resuming
	// guild-2> skip
	// skipping
	// guild-1> play ../../testdata/prog.opus
	// queued prog.opus
	//   guild-2: prog_48000.mp3 ended: skipped
	//   guild-1: started prog.opus
	// encodes: 1
}
