package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/opus"
	"github.com/streamcatcher/streamcatcher/internal/nodetest"
	"github.com/streamcatcher/streamcatcher/pipeline"
	"github.com/streamcatcher/streamcatcher/pipeline/sink"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "-role" {
		main() // the bots' process of TestSplit: this binary, run as the program
		return
	}
	goleak.VerifyTestMain(m,
		// pion's and the HTTP client's idle goroutines end on their own
		// timers after the run.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// syncBuffer is a bytes.Buffer for a run's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func shortOptions(out *syncBuffer) *options {
	return &options{
		guilds: 10, duration: 3 * time.Second, listeners: 1,
		addr: "127.0.0.1:0", udpAddr: "127.0.0.1:0", webrtcAddr: "127.0.0.1:0",
		role: "all", discordjs: "auto", faults: true, out: out,
	}
}

// TestShortRun runs the example as go run does, shorter: its own checks
// must pass, with the faults injected. It is a run in real time, so it
// asserts no count of packets, which a busy machine would lower: only that
// what was heard was right (the run fails on any loss, duplicate, reorder
// or wrong audio), that some audio was heard and verified, and that each
// recording holds exactly the packets it was sent, to the sample.
func TestShortRun(t *testing.T) {
	var out syncBuffer
	o := shortOptions(&out)
	o.record = t.TempDir()
	err := run(context.Background(), o)
	t.Log("\n" + out.String())
	require.NoError(t, err)
	s := out.String()
	assert.Contains(t, s, "result: every packet heard was in order and carried the right audio")
	assert.Contains(t, s, "guild-7: handshake failed: voice: authentication failed (4004)")
	assert.Contains(t, s, "guild-6: track no-such-track.mp3: open")
	assert.Regexp(t, `9 connected of 10 \(aead_\w+ \d, aead_\w+ \d\)`, s, "both modes in use")
	for _, name := range defaultTracks {
		assert.Contains(t, s, name+" ×1", "every track encoded once")
	}
	assert.Contains(t, s, "1 control connections resumed, 1 UDP sockets reopened")
	// The in-process listeners may hear nothing at all of a short run on
	// a busy machine (they connect while it runs); what they heard must
	// decode.
	assert.Regexp(t, `WebRTC listener +\d+ packets, [0-9.]+ s decoded, 0 undecodable`, s)
	assert.Regexp(t, `HTTP   listener +\d+ packets, [0-9.]+ s decoded, 0 undecodable`, s)
	verified := regexp.MustCompile(`verified +(\d+) packets' audio matched`).FindStringSubmatch(s)
	require.NotNil(t, verified, "the summary's verified line")
	assert.NotEqual(t, "0", verified[1], "some audio was heard and verified")

	// The recordings are Ogg Opus files with every packet the guild sent.
	files, err := filepath.Glob(filepath.Join(o.record, "*.opus"))
	require.NoError(t, err)
	assert.Len(t, files, 9)
	b, err := os.ReadFile(filepath.Join(o.record, "guild-1.opus"))
	require.NoError(t, err)
	r := ogg.NewReader(bytes.NewReader(b))
	var n int
	var samples int64
	var last ogg.Packet
	for {
		p, err := r.ReadPacket()
		if err != nil {
			require.ErrorIs(t, err, io.EOF)
			break
		}
		if n >= 2 { // after OpusHead and OpusTags
			d, err := opus.PacketSamples(p.Data)
			require.NoError(t, err)
			samples += d
		}
		n, last = n+1, p
	}
	assert.Greater(t, n, 2, "some audio after OpusHead and OpusTags")
	assert.True(t, last.EOS)
	assert.Equal(t, samples, last.Granule, "its duration is that of the packets heard")
}

// TestDAVE: with DAVE required, as Discord does, the bots' audio reaches
// the listener in each channel end-to-end encrypted, and every packet
// passes the checks.
func TestDAVE(t *testing.T) {
	var out syncBuffer
	o := shortOptions(&out)
	o.guilds, o.listeners, o.dave = 3, 0, true
	require.NoError(t, run(context.Background(), o), out.String())
	assert.Contains(t, out.String(), "3 connected of 3")
	assert.Contains(t, out.String(), "the server requires DAVE")
	assert.Regexp(t, regexp.MustCompile(`verified +[1-9][0-9]* packets`), out.String())
}

// TestDiscordJS: with DAVE required and node here, a discord.js client
// joins the channel of each even guild, a member of its DAVE group, and
// every frame of the bot it decrypts is byte-equal to the frame the
// listener decrypted; without node, a line says they were skipped.
func TestDiscordJS(t *testing.T) {
	var out syncBuffer
	o := shortOptions(&out)
	o.guilds, o.listeners, o.dave, o.faults = 4, 0, true, false
	err := run(context.Background(), o)
	t.Log("\n" + out.String())
	require.NoError(t, err)
	s := out.String()
	if _, lookErr := exec.LookPath("node"); lookErr != nil || nodetest.Skipped() {
		assert.Regexp(t, `discord.js guilds skipped: \S`, s)
		return
	}
	assert.Contains(t, s, "in the channel of each even guild, 2, a member of its DAVE group")
	m := regexp.MustCompile(`discord.js guilds +2 \(even\): (\d+) frames of the bots decrypted by discord.js, (\d+) byte-equal to the listener's, 0 differing, \d+ of packets the listener missed; the listeners heard \d+; 0 failed`).FindStringSubmatch(s)
	require.NotNil(t, m, "the discord.js guilds' line")
	assert.NotEqual(t, "0", m[1], "discord.js decrypted some frames")
	assert.Equal(t, m[1], m[2], "every frame byte-equal to the listener's")
	assert.Contains(t, s, "Go-only guilds      2 (odd)")
}

// TestDiscordJSSkipped: -discordjs=false, or -dave=false, says so in a
// line and runs Go clients alone.
func TestDiscordJSSkipped(t *testing.T) {
	for _, c := range []struct {
		discordjs string
		dave      bool
		why       string
	}{{"false", true, "-discordjs=false"}, {"auto", false, "-dave=false"}} {
		var out syncBuffer
		o := shortOptions(&out)
		o.guilds, o.listeners, o.faults, o.duration = 2, 0, false, time.Second
		o.discordjs, o.dave = c.discordjs, c.dave
		require.NoError(t, run(context.Background(), o), out.String())
		assert.Contains(t, out.String(), "discord.js guilds skipped: "+c.why)
		assert.Contains(t, out.String(), "discord.js          skipped: "+c.why)
	}
}

// TestDJSCompare: a discord.js client fails when a frame it decrypted
// differs from the listener's frame of the same packet, or when it
// decrypted none of those the listener heard.
func TestDJSCompare(t *testing.T) {
	heard := map[string]map[uint64]uint64{"guild-2": {
		frameKey(7, 1): frameHash([]byte("one")), frameKey(7, 2): frameHash([]byte("two")),
	}}
	ok := &djsClient{guild: "guild-2", frames: []djsFrame{{frameKey(7, 1), frameHash([]byte("one"))}, {frameKey(7, 3), 1}}}
	wrong := &djsClient{guild: "guild-2", frames: []djsFrame{{frameKey(7, 2), frameHash([]byte("one"))}}}
	none := &djsClient{guild: "guild-2"}
	for _, c := range []struct {
		client *djsClient
		want   djsResult
	}{
		{ok, djsResult{guild: "guild-2", frames: 2, equal: 1, unheard: 1, heard: 2}},
		{wrong, djsResult{guild: "guild-2", frames: 1, differ: 1, heard: 2}},
		{none, djsResult{guild: "guild-2", heard: 2}},
	} {
		d := &djsGuilds{clients: []*djsClient{c.client}}
		d.compare(heard)
		require.Len(t, d.results, 1)
		assert.Equal(t, c.want, d.results[0])
		assert.Equal(t, c.client != ok, d.failed(), "%+v", c.want)
	}
}

// TestSplit runs the bots in a second process: this test binary, which
// runs main for them (see TestMain).
func TestSplit(t *testing.T) {
	var out syncBuffer
	o := shortOptions(&out)
	o.split, o.listeners, o.faults = true, 0, false
	o.guilds = 4
	err := run(context.Background(), o)
	t.Log("\n" + out.String())
	require.NoError(t, err)
	s := out.String()
	assert.Contains(t, s, "[bots] bots: 4 of 4 guilds connected")
	assert.Contains(t, s, "result: every packet heard was in order and carried the right audio")
	assert.Contains(t, s, "heard ")
}

func TestLabel(t *testing.T) {
	b := appendLabel(nil, 7, opus.Packet{Position: -312})
	require.Len(t, b, 13)
	assert.Equal(t, byte(0x1b), b[0])
	l := parseLabel(append(append([]byte{0, 0}, b...), 0, 0, 0))
	assert.Equal(t, label{track: 7, pos: -312, ok: true}, l)
	l = parseLabel(appendLabel(nil, 7, opus.Packet{Position: 960, Seam: true}))
	assert.Equal(t, label{track: 7, pos: 960, seam: true, ok: true}, l, "a transition packet's")

	for name, ext := range map[string][]byte{
		"empty":     nil,
		"padding":   {0, 0, 0, 0},
		"other":     {0x22, 1, 2, 3},
		"truncated": b[:8],
		"reserved":  {0xf0, 0x1b},
		"wrong len": {0x1a, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11},
	} {
		t.Run(name, func(t *testing.T) {
			assert.False(t, parseLabel(ext).ok)
		})
	}
}

func FuzzLabel(f *testing.F) {
	f.Add(appendLabel(nil, 1, opus.Packet{Position: 960}))
	f.Add(appendLabel(nil, 1, opus.Packet{Position: 960, Seam: true}))
	f.Add([]byte{0x10, 0xff, 0x1b})
	f.Fuzz(func(t *testing.T, ext []byte) {
		l := parseLabel(ext)
		if l.ok { // what parses is an element that is really there
			el := appendLabel(nil, l.track, opus.Packet{Position: l.pos, Seam: l.seam})
			assert.True(t, bytes.Contains(ext, el))
		}
	})
}

// TestVerifier feeds the checker a track's packets as a bot would send
// them, and then with each kind of fault: each is caught.
func TestVerifier(t *testing.T) {
	cat := newCatalogue([]string{testdataPath("prog_48000.mp3")}, false)
	cat2 := newCatalogue([]string{testdataPath("prog_48000.mp3"), testdataPath("prog_48000.mp3")}, false) // two tracks, for a join
	lib := pipeline.NewLibrary(pipeline.WithOpener(cat.opener))
	defer lib.Close()
	p, err := lib.Play(context.Background(), cat.key(0))
	require.NoError(t, err)
	defer p.Close()
	<-p.Track().Done()
	var pkts []opus.Packet
	for {
		pkt, err := p.Next()
		if err != nil {
			break
		}
		pkt.Data = bytes.Clone(pkt.Data)
		pkts = append(pkts, pkt)
	}
	require.Greater(t, len(pkts), 100)

	check := func(t *testing.T, edit func(i int, h *sink.Header, pkt *opus.Packet) bool) streamResult {
		v := newVerifier(&references{lib: lib, cat: cat, refs: map[int]*reference{}})
		pz := sink.NewPacketizer(1)
		at := time.Now()
		for i, pkt := range pkts {
			h := pz.Next(pkt)
			if !edit(i, &h, &pkt) {
				continue
			}
			ext := appendLabel(nil, 0, pkt)
			v.handle(sessionInfo{ssrc: 1, guild: "g"}, sink.Opened{Header: h, Ext: ext, Payload: pkt.Data}, labelOf(ext), at)
			at = at.Add(20 * time.Millisecond)
		}
		v.close()
		return v.results()["g"]
	}
	t.Run("as sent", func(t *testing.T) {
		r := check(t, func(int, *sink.Header, *opus.Packet) bool { return true })
		assert.False(t, r.failed(), "%+v", r)
		assert.Greater(t, r.Verified, int64(len(pkts)-20))
		assert.Greater(t, r.WorstSNR, minSNR)
	})
	t.Run("lost", func(t *testing.T) {
		r := check(t, func(i int, _ *sink.Header, _ *opus.Packet) bool { return i != 50 })
		assert.Equal(t, int64(1), r.Lost)
	})
	t.Run("duplicated", func(t *testing.T) {
		var prev sink.Header
		r := check(t, func(i int, h *sink.Header, _ *opus.Packet) bool {
			if i == 60 {
				*h = prev
			}
			prev = *h
			return true
		})
		assert.Equal(t, int64(1), r.Duplicate)
	})
	t.Run("wrong timestamp", func(t *testing.T) {
		r := check(t, func(i int, h *sink.Header, _ *opus.Packet) bool {
			if i >= 70 {
				h.Timestamp += 480
			}
			return true
		})
		assert.Equal(t, int64(1), r.BadTime)
	})
	t.Run("wrong audio", func(t *testing.T) {
		// From packet 40 (in the tone), each packet claims to be 30
		// packets further on: it was the audio of another place.
		r := check(t, func(i int, _ *sink.Header, pkt *opus.Packet) bool {
			if i >= 40 && i < 70 {
				pkt.Position += 30 * 960
			}
			return true
		})
		assert.Positive(t, r.Wrong, "%+v", r)
	})
	t.Run("corrupt payload", func(t *testing.T) {
		r := check(t, func(i int, _ *sink.Header, pkt *opus.Packet) bool {
			if i == 80 {
				pkt.Data = []byte{0xff, 0x00} // code 3, no frames
			}
			return true
		})
		assert.Equal(t, int64(1), r.Undecoded)
	})
	t.Run("transition", func(t *testing.T) {
		// Packets 40 to 59 are a transition (a join's, a crossfade's):
		// labelled as seams, their audio is not compared, even past the
		// pre-roll; from packet 60 on, audio from the wrong place is
		// caught again.
		r := check(t, func(i int, _ *sink.Header, pkt *opus.Packet) bool {
			switch {
			case i >= 40 && i < 60:
				pkt.Position += 30 * 960
				pkt.Seam = true
			case i >= 60 && i < 70:
				pkt.Position += 30 * 960
			}
			return true
		})
		assert.Equal(t, int64(20-preRoll/960), r.Transition, "%+v", r)
		assert.Positive(t, r.Wrong, "after the transition: %+v", r)
		assert.LessOrEqual(t, r.Wrong, int64(10), "only packets 60 to 69: %+v", r)
	})
	t.Run("seams", func(t *testing.T) {
		// A silence frame in place of packet 10 (a jump without a
		// transition, in the silence the track starts with), then a seek
		// at packet 13, two packets later, to the tone's onset: the first
		// jump is heard to where the second starts, not charged with its
		// audio.
		r := check(t, func(i int, _ *sink.Header, pkt *opus.Packet) bool {
			switch {
			case i >= len(pkts)-13:
				return false
			case i == 10:
				pkt.Data, pkt.Silence = []byte(opus.SilenceFrame), true
			case i >= 13:
				pkt.Position += 13 * 960
				pkt.Data = pkts[i+13].Data
				pkt.Seam = i < 16
			}
			return true
		})
		on := r.SeamKinds[kindResetOn]
		assert.Equal(t, int64(1), on.Jumps, "%+v", r.SeamKinds)
		assert.Less(t, on.Worst, seamBound, "the silence's jump, silent")
		assert.Equal(t, int64(1), r.SeamKinds[kindSeek].Jumps, "%+v", r.SeamKinds)
	})
	t.Run("join", func(t *testing.T) {
		// Packets 60 to 64 are a join's transition into another track,
		// the first three labelled 0 (their audio is before its start):
		// one jump, through the transition, not three.
		v := newVerifier(&references{lib: lib, cat: cat2, refs: map[int]*reference{}})
		pz := sink.NewPacketizer(1)
		at := time.Now()
		for i, pkt := range pkts {
			track := 0
			if i >= 60 {
				track = 1
				pkt.Position -= 63 * 960
				pkt.Seam = i < 65
				if pkt.Position < 0 {
					pkt.Position = 0
				}
			}
			ext := appendLabel(nil, track, pkt)
			v.handle(sessionInfo{ssrc: 1, guild: "g"}, sink.Opened{Header: pz.Next(pkt), Ext: ext, Payload: pkt.Data}, labelOf(ext), at)
			at = at.Add(20 * time.Millisecond)
		}
		v.close()
		r := v.results()["g"]
		assert.Equal(t, int64(1), r.SeamKinds[kindJoin].Jumps, "%+v", r.SeamKinds)
		assert.Equal(t, int64(2), r.Seams, "the stream's start and the join: %+v", r.SeamKinds)
	})
	t.Run("unlabelled", func(t *testing.T) {
		v := newVerifier(&references{lib: lib, cat: cat, refs: map[int]*reference{}})
		v.handle(sessionInfo{ssrc: 1, guild: "g"}, sink.Opened{Payload: pkts[30].Data}, label{}, time.Now())
		v.close()
		assert.Equal(t, int64(1), v.results()["g"].Unlabelled)
	})
}

// TestBadTracks: a missing file and one that is not audio in the track
// list give one line each, whichever guild meets them first, and the
// guilds play the rest.
func TestBadTracks(t *testing.T) {
	var out syncBuffer
	o := shortOptions(&out)
	o.guilds, o.duration, o.listeners, o.faults = 6, 2*time.Second, 0, false
	o.tracks = []string{testdataPath("no-such.mp3"), testdataPath("notaudio.txt"), testdataPath("prog_48000.mp3")}
	err := run(context.Background(), o)
	t.Log("\n" + out.String())
	require.NoError(t, err)
	s := out.String()
	assert.Equal(t, 1, strings.Count(s, ": track no-such.mp3: "), "one line for the missing file")
	assert.Equal(t, 1, strings.Count(s, ": track notaudio.txt: "), "one line for the file that is not audio")
	assert.Contains(t, s, "result: every packet heard was in order and carried the right audio")
}
