package testutil

import (
	"bytes"
	"testing"
	"time"

	"github.com/streamcatcher/streamcatcher/codec/ogg"
)

// OggLink is one link of a chained Ogg Opus stream, as OpusLink makes it.
type OggLink struct {
	Data    []byte   // the link's pages
	Packets [][]byte // its audio packets, in order
	Pages   []int    // the byte offset of each page in Data: the two header pages, then the audio pages
}

// PacketsPerPage is how many 20 ms packets an OpusLink puts on a page.
const PacketsPerPage = 5

// OpusLink returns a link of a chained Ogg Opus stream: serial number
// serial, channels and pre-skip in its OpusHead, comments in its
// OpusTags, and n audio packets of 20 ms, PacketsPerPage to a page, ended
// by an end-of-stream page if eos. Each packet is a TOC byte of a 20 ms
// CELT frame (mono or stereo, as the link) and 40 bytes that tell the
// serial number and the packet's number apart, none of them 'O' (so no
// capture pattern is ever found inside a packet).
func OpusLink(t testing.TB, serial uint32, channels uint8, preSkip uint16, n int, eos bool, comments ...string) OggLink {
	t.Helper()
	var buf bytes.Buffer
	w, err := ogg.NewOpusWriter(&buf, ogg.OpusHead{Version: 1, Channels: channels, PreSkip: preSkip, InputRate: 48000},
		ogg.OpusTags{Vendor: "testutil", Comments: comments},
		ogg.WithSerial(serial), ogg.WithPageDuration(PacketsPerPage*20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	toc := byte(0xf8) // config 31: CELT fullband 20 ms, one frame
	if channels == 2 {
		toc |= 0x04
	}
	var l OggLink
	for i := range n {
		p := make([]byte, 41)
		p[0] = toc
		for j := 1; j < len(p); j++ {
			p[j] = byte((int(serial)*7 + i*3 + j) % 64)
		}
		p[1], p[2] = byte(serial%64), byte(i%64)
		p[3] = byte(i / 64 % 64)
		if err := w.WritePacket(p); err != nil {
			t.Fatal(err)
		}
		l.Packets = append(l.Packets, p)
	}
	if eos {
		err = w.Close()
	} else {
		err = w.Flush()
	}
	if err != nil {
		t.Fatal(err)
	}
	l.Data = buf.Bytes()
	for off := 0; off < len(l.Data); {
		l.Pages = append(l.Pages, off)
		nsegs := int(l.Data[off+26])
		size := 0
		for _, v := range l.Data[off+27 : off+27+nsegs] {
			size += int(v)
		}
		off += 27 + nsegs + size
	}
	return l
}

// Join returns the page of the link from page i of its audio on, after
// its header pages: what a radio server sends a listener who joins in the
// middle of a song (the song's headers, then its pages from the live
// point), and the packets on them.
func (l OggLink) Join(i int) OggLink {
	head := l.Data[:l.Pages[2]]
	var j OggLink
	j.Data = append(bytes.Clone(head), l.Data[l.Pages[2+i]:]...)
	j.Packets = l.Packets[min(len(l.Packets), i*PacketsPerPage):]
	j.Pages = append(j.Pages, l.Pages[:2]...)
	for _, p := range l.Pages[2+i:] {
		j.Pages = append(j.Pages, p-l.Pages[2+i]+len(head))
	}
	return j
}
