package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/mp3"
	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/internal/testutil"
	"github.com/streamcatcher/streamcatcher/pipeline"
)

// heard is what a player gave: the track's packets, and the title it
// said it was playing with each.
type heard struct {
	packets [][]byte
	titles  []string
}

// playTitled plays a track that has ended to its end with a new player,
// asking the player's title after each packet of the track. The radios
// of these tests go away after their last connection: the track ends
// with the source giving up on its reconnects, after every packet.
func playTitled(t *testing.T, tr *pipeline.Track) heard {
	t.Helper()
	select {
	case <-tr.Done():
	case <-time.After(time.Minute):
		t.Fatal("the track did not end")
	}
	p := tr.NewPlayer()
	defer p.Close()
	var h heard
	for {
		pk, err := p.Next()
		if err != nil {
			require.ErrorIs(t, err, tr.Err(), "the track's end")
			for _, e := range []error{ogg.ErrBadPage, ogg.ErrNotOpus, ogg.ErrChained} {
				require.NotErrorIs(t, err, e, "the source's end, not the stream's")
			}
			require.NotContains(t, err.Error(), "ogg:", "the source's end, not the stream's")
			return h
		}
		if pk.Silence {
			continue
		}
		h.packets = append(h.packets, append([]byte(nil), pk.Data...))
		title, _ := p.Title()
		if title.Reconnect {
			h.titles = append(h.titles, "(reconnect)")
		} else {
			h.titles = append(h.titles, title.Title)
		}
	}
}

// placed is a track's title without its time.
type placed struct {
	Title, Artist string
	Position      int64
	Reconnect     bool
}

func placedTitles(tr *pipeline.Track) []placed {
	var p []placed
	for _, c := range tr.Titles() {
		p = append(p, placed{c.Title, c.Artist, c.Position, c.Reconnect})
	}
	return p
}

// repeat returns n copies of s.
func repeat(s string, n int) []string {
	r := make([]string, n)
	for i := range r {
		r[i] = s
	}
	return r
}

// A radio's Ogg Opus stream, new headers at each song (a chain): a live
// track plays every packet of every link, in order, and its titles are
// each link's, at the link's first packet; a player says which it plays.
func TestLiveOggChainTitles(t *testing.T) {
	links := []testutil.OggLink{
		testutil.OpusLink(t, 1, 2, 312, 30, true, "TITLE=One", "ARTIST=A"),
		testutil.OpusLink(t, 2, 1, 120, 25, false, "TITLE=Two", "ARTIST=B"), // mono, no end-of-stream page
		testutil.OpusLink(t, 3, 2, 312, 40, true, "TITLE=Three"),
	}
	var stream []byte
	var want [][]byte
	var titles []string
	for _, l := range links {
		stream = append(stream, l.Data...)
		want = append(want, l.Packets...)
	}
	titles = append(append(append(titles, repeat("One", 30)...), repeat("Two", 25)...), repeat("Three", 40)...)
	ic := &icecast{name: "Radio", audio: func(k int) []byte {
		if k == 0 {
			return stream
		}
		return nil // the radio is gone
	}}
	src := pipeline.OpenHTTP(context.Background(), serve(t, ic), fastRetry)
	tr := newTrack(t, src, pipeline.WithLive(time.Minute), pipeline.WithPacing(nil))
	h := playTitled(t, tr)
	require.Equal(t, len(want), len(h.packets))
	assert.Equal(t, want, h.packets, "every packet of every link, none lost or changed")
	assert.Equal(t, titles, h.titles, "the title of the link each packet is from")
	assert.Equal(t, []placed{
		{"One", "A", 0, false},
		{"Two", "B", 30*960 - 312, false},
		{"Three", "", 55*960 - 312, false},
	}, placedTitles(tr))
	m := tr.Metadata()
	assert.Equal(t, "Three", m.Title, "the latest link's")
}

// A radio's Ogg Opus stream dropped in the middle of a page: the live
// track goes on from the new connection's live point (the song's headers
// again, then its pages from there), the packets of the page cut short
// lost and no other; its titles mark the reconnect where the audio jumps.
func TestLiveOggReconnect(t *testing.T) {
	one := testutil.OpusLink(t, 1, 2, 312, 30, true, "TITLE=One")
	two := testutil.OpusLink(t, 2, 2, 312, 50, true, "TITLE=Two")
	three := testutil.OpusLink(t, 3, 2, 312, 20, true, "TITLE=Three")
	const cutPage, joinPage = 3, 6 // two's audio page cut short, and the page the new connection starts at
	conn0 := append(append([]byte(nil), one.Data...), two.Data...)
	drop := len(one.Data) + two.Pages[2+cutPage] + 40 // inside the page's body
	conn1 := append(append([]byte(nil), two.Join(joinPage).Data...), three.Data...)
	ic := &icecast{name: "Radio", audio: func(k int) []byte {
		switch k {
		case 0:
			return conn0
		case 1:
			return conn1
		}
		return nil // the radio is gone
	}, drop: func(k int) int {
		if k == 0 {
			return drop
		}
		return -1
	}}
	src := pipeline.OpenHTTP(context.Background(), serve(t, ic), fastRetry)
	tr := newTrack(t, src, pipeline.WithLive(time.Minute), pipeline.WithPacing(nil))
	h := playTitled(t, tr)
	assert.GreaterOrEqual(t, src.Reconnects(), int64(1))

	kept := cutPage * testutil.PacketsPerPage // two's packets on whole pages before the drop
	joined := joinPage * testutil.PacketsPerPage
	var want [][]byte
	want = append(append(want, one.Packets...), two.Packets[:kept]...)
	want = append(append(want, two.Packets[joined:]...), three.Packets...)
	require.Equal(t, len(want), len(h.packets))
	assert.Equal(t, want, h.packets, "the packets before the drop, then the new connection's")
	rejoin := int64(30+kept)*960 - 312
	assert.Equal(t, []placed{
		{"One", "", 0, false},
		{"Two", "", 30*960 - 312, false},
		{"", "", rejoin, true},
		{"Two", "", rejoin, false},
		{"Three", "", rejoin + int64(50-joined)*960, false},
	}, placedTitles(tr))
	var titles []string
	titles = append(append(titles, repeat("One", 30)...), repeat("Two", kept)...)
	titles = append(append(titles, repeat("Two", 50-joined)...), repeat("Three", 20)...)
	assert.Equal(t, titles, h.titles)
}

// mp3Frames returns the offsets of the frames of a CBR MPEG-1 Layer III
// stream without tags, its LAME Info frame first, read from their
// headers: at 44.1 kHz, 144·bitrate/44100 bytes and the padding bit.
func mp3Frames(t *testing.T, b []byte) []int {
	t.Helper()
	rates := []int{0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}
	var offs []int
	for off := 0; off+4 <= len(b); {
		require.True(t, b[off] == 0xff && b[off+1]&0xfe == 0xfa, "a Layer III header at %d", off)
		require.Zero(t, b[off+2]&0x0c, "44.1 kHz")
		offs = append(offs, off)
		off += 144*rates[b[off+2]>>4]*1000/44100 + int(b[off+2]>>1&1)
	}
	return offs
}

// An MP3 radio stream whose title changes at known bytes: the track
// places each change at the first sample of the first frame that begins
// at or after its byte, which is within one frame of the byte itself.
func TestICYTitlesOnMP3Track(t *testing.T) {
	data := testutil.Fixture(t, "prog_cbr128.mp3")
	frames := mp3Frames(t, data)
	const interval = 7001 // not a multiple of the frame size: changes fall inside frames
	ic := &icecast{interval: interval, audio: func(k int) []byte {
		if k == 0 {
			return data
		}
		return nil // the radio is gone: the source gives up after its retries
	}, meta: func(_, b int) []byte {
		return icyBlock("StreamTitle='Song " + string(rune('A'+b)) + "';")
	}}
	src := pipeline.OpenHTTP(context.Background(), serve(t, ic), fastRetry)
	tr := newTrack(t, src)
	select {
	case <-tr.Done():
	case <-time.After(time.Minute):
		t.Fatal("the track did not end")
	}
	info, _, ok := catcher.StateOf[mp3.Info](tr.Catcher())
	require.True(t, ok)
	require.EqualValues(t, 576, info.EncoderDelay)
	delay := int64(529 + 576) // go-mp3's delay and the encoder's, trimmed by the decoder
	frameLen := int64(1152 * 48000 / 44100)

	got := tr.Titles()
	require.Len(t, got, len(data)/interval, "a change after every interval of audio")
	for i, c := range got {
		b := int64(i+1) * interval // the change's byte
		assert.Equal(t, "Song "+string(rune('A'+i)), c.Title)
		assert.Equal(t, b, c.Offset)
		// The first frame at or after b, counted after the Info frame.
		k := 0
		for k < len(frames) && int64(frames[k]) < b {
			k++
		}
		want := (int64(k-1)*1152 - delay) * 48000 / 44100
		assert.InDelta(t, want, c.Position, 1, "change %d at byte %d: frame %d", i, b, k)
		// Within one frame after where the byte itself plays, interpolated
		// in its frame.
		at := float64(int64(k-2)*1152-delay) + float64(b-int64(frames[k-1]))/float64(frames[k]-frames[k-1])*1152
		at = at * 48000 / 44100
		assert.GreaterOrEqual(t, float64(c.Position), at-1, "change %d", i)
		assert.LessOrEqual(t, float64(c.Position), at+float64(frameLen)+1, "change %d", i)
	}
}
