package ogg

import (
	"errors"
	"fmt"
	"io"
)

// bisectSpan is the span of bytes under which SeekOpus stops bisecting
// and reads the pages in it one after another: a few pages.
const bisectSpan = 64 << 10

// SeekOpus returns a demuxer of the Ogg Opus stream r whose first packet
// is the first to start at or before sample (decoded samples counted from
// the stream's first packet, the pre-skip included, as framed.Index
// counts them: packet i of 20 ms starts at 960i), and the sample that
// packet starts at. That packet begins after the last page whose granule
// position is at or before sample (or is the stream's first, if none is),
// so that the demuxer's packets are the stream's, the same bytes, from a
// known sample on.
//
// SeekOpus reads the headers and the first audio page from r's start
// (the stream's starting granule position: RFC 7845, section 4), then
// finds that page by bisecting r's pages by granule position, a few pages
// read at each step, and the last few one after another: some
// log2(size/64 KiB) seeks, nothing decoded. It is for a stream of one
// link (a file): the granule positions of a chained stream start again at
// each link. The demuxer reads r from there with NextPacket(r); its
// headers are the stream's, and its Length counts from the stream's
// start. Errors: ReadHeaders'; a stream with no audio page, an error
// wrapping io.ErrUnexpectedEOF; ErrBadPage (wrapped) for granule
// positions that go back (a chained stream); r's.
func SeekOpus(r io.ReadSeeker, sample int64, opts ...DemuxOption) (*OpusDemuxer, int64, error) {
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, 0, err
	}
	d := NewOpusDemuxer(opts...)
	if err := d.ReadHeaders(r); err != nil {
		return nil, 0, err
	}
	serial, audioAt := d.r.serial, d.r.offset // audio starts on a page of its own
	// The starting granule position: the first audio page's, less its
	// packets' samples.
	for !d.started {
		if _, err := d.NextPacket(r); err != nil {
			if err == io.EOF || errors.Is(err, ErrChained) {
				return nil, 0, fmt.Errorf("ogg: no audio page with a granule position: %w", io.ErrUnexpectedEOF)
			}
			return nil, 0, err
		}
	}
	start := d.start
	size, err := r.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, 0, err
	}

	// Bisect: the first page at or after hi (of the stream, with a
	// granule position) is past sample; best, if found, is at or before.
	var best *pageInfo
	lo, hi := audioAt, size
	for hi-lo > bisectSpan {
		mid := lo + (hi-lo)/2
		pi, ok, err := pageFrom(r, mid, serial)
		if err != nil {
			return nil, 0, err
		}
		switch {
		case !ok || pi.at >= hi || pi.granule-start > sample:
			hi = mid
		case best != nil && pi.granule < best.granule:
			return nil, 0, fmt.Errorf("%w: granule position %d at offset %d after %d at offset %d (a chained stream?)", ErrBadPage, pi.granule, pi.at, best.granule, best.at)
		default:
			best, lo = &pi, pi.at
		}
	}
	// The last pages, one after another.
	if _, err := r.Seek(lo, io.SeekStart); err != nil {
		return nil, 0, err
	}
	scan := NewReader(r)
	scan.resync, scan.offset = true, lo
	for {
		pi, err := scan.readRawPage()
		if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		if pi.flags&oggBOS != 0 {
			break // the next link of a chain: past our stream
		}
		if pi.serial != serial || pi.granule < 0 || pi.last < 0 {
			continue
		}
		if pi.granule-start > sample {
			break
		}
		if best != nil && pi.granule < best.granule {
			return nil, 0, fmt.Errorf("%w: granule position %d at offset %d after %d at offset %d (a chained stream?)", ErrBadPage, pi.granule, pi.at, best.granule, best.at)
		}
		best = &pi
	}

	at, first := audioAt, int64(0)
	if best != nil {
		at, first = best.at, best.granule-start
	}
	if _, err := r.Seek(at, io.SeekStart); err != nil {
		return nil, 0, err
	}
	o := NewReader(r)
	o.offset = at
	if err := o.enter(serial, best != nil); err != nil {
		return nil, 0, err
	}
	d.r, d.src = o, r
	d.total, d.last = first, -1
	if best != nil {
		d.last = best.granule
	}
	return d, first, nil
}

// pageFrom returns the first page of the stream serial that ends a packet
// (a granule position) and starts at or after offset at of r, read by
// looking for a capture pattern there; ok is false if there is none
// before r's end.
func pageFrom(r io.ReadSeeker, at int64, serial uint32) (pageInfo, bool, error) {
	if _, err := r.Seek(at, io.SeekStart); err != nil {
		return pageInfo{}, false, err
	}
	o := NewReader(r)
	o.resync, o.offset = true, at
	for {
		pi, err := o.readRawPage()
		switch {
		case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
			return pageInfo{}, false, nil
		case err != nil:
			return pageInfo{}, false, err
		case pi.flags&oggBOS != 0:
			return pageInfo{}, false, nil // the next link of a chain: past our stream
		case pi.serial == serial && pi.granule >= 0 && pi.last >= 0:
			return pi, true, nil
		}
	}
}

// enter makes a new Reader, at the start of a page of the stream serial
// in the middle of the stream (the pages of other streams before it
// skipped), read on as a Reader that had read the stream up to there:
// from the page's first packet (after the part of one it continues, if
// any), or, with after, from the first packet that starts after the last
// one that ends on it.
func (o *Reader) enter(serial uint32, after bool) error {
	var pi pageInfo
	for {
		var err error
		if pi, err = o.readRawPage(); err != nil {
			if err == io.EOF {
				return fmt.Errorf("ogg: no page of stream %d: %w", serial, io.ErrUnexpectedEOF)
			}
			return err
		}
		if pi.serial == serial {
			break
		}
	}
	lacing := o.hdr[oggHeaderSize : oggHeaderSize+pi.nsegs]
	from := 0
	switch {
	case after && pi.last >= 0:
		from = pi.last + 1
	case pi.flags&oggContinued != 0:
		for from < len(lacing) && lacing[from] == 255 {
			from++
		}
		from = min(from+1, len(lacing))
	}
	o.pos = 0
	for _, v := range lacing[:from] {
		o.pos += int(v)
	}
	o.segs, o.page, o.serial, o.seq = lacing[from:], pi, serial, pi.seq
	o.pages, o.open, o.pkt, o.eos = 1, false, o.pkt[:0], pi.flags&oggEOS != 0
	return nil
}
