package pipeline

import (
	"io"
	"slices"
	"sync/atomic"
	"time"

	"github.com/streamcatcher/streamcatcher/catcher"
	"github.com/streamcatcher/streamcatcher/codec/framed"
	"github.com/streamcatcher/streamcatcher/codec/mp3"
	"github.com/streamcatcher/streamcatcher/codec/ogg"
	"github.com/streamcatcher/streamcatcher/codec/opus"
)

// titleSource is a source that publishes title changes at byte offsets of
// what it reads (an HTTPSource of an internet radio): the track places
// them at its own positions (see Track.Titles).
type titleSource interface {
	Titles() []StreamTitle
}

// titleList is the titles a track publishes in its cache's state: placed,
// in order of Position, the last maxTitles. It is never changed once
// published.
type titleList []StreamTitle

// titler is the transform of a track with titles: the track's own, which
// it runs as it is, then places the title changes that the run brought
// at track positions, and publishes them with the bytes (see
// Track.Titles). It is driven by the fill, as the transform it wraps.
type titler struct {
	t       catcher.Transform
	src     titleSource   // nil if the source publishes none
	last    *StreamTitle  // the last of src's titles taken
	pending []StreamTitle // src's titles taken, not placed yet
	linkAt  int64         // the offset of the last Ogg link taken, -1 before
	titles  titleList     // copied on write
	inner   any           // t's state after the last call
	// read counts the source's bytes t has read: added to by whoever
	// reads them (the decode goroutine of a pipelined transcode: see
	// pipelined.go), loaded by the fill.
	read atomic.Int64
}

// withTitles returns tr with its titles placed and published, and the
// reader it reads, counted, when the source publishes titles or the track
// is live (where a chained Ogg stream's links bring theirs); else tr and
// in themselves. in is the reader of tr's input, which starts at the
// source's first byte.
func withTitles(tr catcher.Transform, in io.Reader, src io.Reader, live bool) (catcher.Transform, io.Reader) {
	ts, ok := src.(titleSource)
	if tr == nil || in == nil || !ok && !live {
		return tr, in
	}
	tt := &titler{t: tr, src: ts, linkAt: -1}
	return tt, &titleCounter{r: in, tt: tt}
}

// titleCounter counts the source's bytes that a titler's transform reads.
type titleCounter struct {
	r  io.Reader
	tt *titler
}

func (c *titleCounter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.tt.read.Add(int64(n))
	return n, err
}

func (tt *titler) MinSpace() int { return tt.t.MinSpace() }

func (tt *titler) Transform(dst []byte, src io.Reader) (int, error) {
	n, err := tt.t.Transform(dst, src)
	if s, ok := tt.t.(catcher.Stater); ok {
		tt.inner = s.State()
	}
	tt.update()
	return n, err
}

// State is the titles beside the track's own state, once there are any.
func (tt *titler) State() any {
	if len(tt.titles) == 0 {
		return tt.inner
	}
	return catcher.ChainState{tt.titles, tt.inner}
}

// Size is the track's transform's (see catcher.Sizer).
func (tt *titler) Size() int64 {
	if s, ok := tt.t.(catcher.Sizer); ok {
		return s.Size()
	}
	return 0
}

// update takes the titles that the last call brought: the links of a
// chained Ogg stream, the source's changes, each placed where it applies.
func (tt *titler) update() {
	x, _ := findState[framed.Index](tt.inner)
	if links, ok := findState[ogg.Links](tt.inner); ok {
		for _, l := range links {
			if l.Offset <= tt.linkAt {
				continue
			}
			tt.linkAt = l.Offset
			tt.add(StreamTitle{
				Title: comment(l.Tags, "TITLE"), Artist: comment(l.Tags, "ARTIST"),
				Offset: l.Offset, Position: max(0, l.Start-x.PreSkip()), Time: time.Now(),
			})
		}
	}
	if tt.src == nil {
		return
	}
	all := tt.src.Titles()
	from := 0
	if tt.last != nil {
		if i := slices.Index(all, *tt.last); i >= 0 {
			from = i + 1
		}
	}
	if from < len(all) {
		tt.pending = append(tt.pending, all[from:]...)
		tt.last = &all[len(all)-1]
	}
	for len(tt.pending) > 0 {
		pos, ok := tt.place(tt.pending[0].Offset, x)
		if !ok {
			break
		}
		c := tt.pending[0]
		c.Position = pos
		tt.add(c)
		tt.pending = tt.pending[1:]
	}
}

// place returns the track position of the source's byte offset off, if
// the decoding has reached it. An MP3's is the first sample of the first
// frame whose header is at or after off (mp3.Frames), once that frame is
// decoded: the decoding chain is exact to the sample, so that is where
// the frame's audio plays, and off is within the frame before. Other
// inputs wait until their transform has read past off: an Ogg stream's
// byte is then placed at the first packet of the link that starts at or
// after it, if one does (a reconnect: the new connection's headers come
// first), else at the end of the packets made so far, which the page
// holding off has ended (a demuxer reads a page at a time); anything
// else at that end too, behind its byte by what the decoder buffers.
func (tt *titler) place(off int64, x framed.Index) (int64, bool) {
	if frames, ok := findState[mp3.Frames](tt.inner); ok {
		info, _ := findState[mp3.Info](tt.inner)
		_, s, ok := frames.At(off)
		if !ok || info.SampleRate <= 0 {
			return 0, false
		}
		return (max(s, 0)*opus.SampleRate + int64(info.SampleRate)/2) / int64(info.SampleRate), true
	}
	if tt.read.Load() <= off {
		return 0, false
	}
	if links, ok := findState[ogg.Links](tt.inner); ok {
		for _, l := range links {
			if l.Offset >= off {
				return max(0, l.Start-x.PreSkip()), true
			}
		}
	}
	return max(0, x.DecodedSamples()-x.PreSkip()), true
}

// add adds a placed title, in order of position (a reconnect before a
// title at the same position: the new connection's first title follows
// it), keeping the last maxTitles.
func (tt *titler) add(c StreamTitle) {
	i := len(tt.titles)
	for i > 0 && (tt.titles[i-1].Position > c.Position || tt.titles[i-1].Position == c.Position && !tt.titles[i-1].Reconnect && c.Reconnect) {
		i--
	}
	next := slices.Insert(slices.Clone(tt.titles), i, c)
	tt.titles = next[max(0, len(next)-maxTitles):]
}

// findState returns the state of type T in st, searching a
// catcher.ChainState from its last stage, as catcher.StateOf does.
func findState[T any](st any) (T, bool) {
	if cs, ok := st.(catcher.ChainState); ok {
		for i := len(cs) - 1; i >= 0; i-- {
			if v, ok := findState[T](cs[i]); ok {
				return v, true
			}
		}
	}
	v, ok := st.(T)
	return v, ok
}

// demuxOptions are the options of the track's Ogg Opus demuxer: a live
// track's goes on across a chain's links and resynchronises after a
// radio's reconnect (ogg.WithChains).
func (t *Track) demuxOptions() []ogg.DemuxOption {
	if t.cfg.live > 0 {
		return []ogg.DemuxOption{ogg.WithChains()}
	}
	return nil
}

// Titles returns the title changes of the track so far, in order of the
// track positions they apply from (StreamTitle.Position), the last 64:
// an internet radio's StreamTitle changes and reconnect markers, when its
// HTTPSource is the track's source (mapped from the source's byte offsets
// to track positions), and the TITLE and ARTIST of each link of a chained
// Ogg Opus stream played live, at the link's first packet. A change is
// there once the encoding has reached the place it applies from, before
// any listener hears it; a listener at position P hears the last change
// at or before P (TitleAt). The slice is shared: it must not be changed.
// It takes no lock.
//
// An MP3 stream's change is placed at the first sample of the first MP3
// frame that begins at or after its byte offset: exact to the sample for
// where that frame plays, so within one frame (1152 samples at the
// stream's rate: 26 ms at 44.1 kHz) after the byte itself. An Ogg stream's
// reconnect is placed at the first packet of the new connection's first
// link; other changes, in other inputs, at the end of what was encoded
// once the decoding read past their byte, which is behind it by what the
// decoding chain buffers (an Ogg page, a decoder's read-ahead).
func (t *Track) Titles() []StreamTitle {
	l, _, _ := catcher.StateOf[titleList](t.c)
	return l
}

// TitleAt returns the title change that applies at track position pos
// (samples at 48 kHz after the pre-skip, as Packet.Position): the last
// one at or before it, and whether there is one (see Titles).
func (t *Track) TitleAt(pos int64) (StreamTitle, bool) {
	l := t.Titles()
	i, _ := slices.BinarySearchFunc(l, pos+1, func(c StreamTitle, p int64) int {
		if c.Position < p {
			return -1
		}
		return 1
	})
	if i == 0 {
		return StreamTitle{}, false
	}
	return l[i-1], true
}
