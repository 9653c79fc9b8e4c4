// Package id3 reads what the codecs need of an ID3v2 tag's header: how
// long the tag is, to skip it.
package id3

// HeaderSize is the size of an ID3v2 tag's header, and of its footer.
const HeaderSize = 10

// TagSize returns the size of the ID3v2 tag that b starts with, its header
// and footer included, and whether b starts with one: "ID3", then a size
// that is synchsafe (7 bits a byte). b must hold the header (HeaderSize
// bytes) for a tag to be found.
func TagSize(b []byte) (int64, bool) {
	if len(b) < HeaderSize || string(b[:3]) != "ID3" || b[6]|b[7]|b[8]|b[9] >= 0x80 {
		return 0, false
	}
	n := HeaderSize + (int64(b[6])<<21 | int64(b[7])<<14 | int64(b[8])<<7 | int64(b[9]))
	if b[5]&0x10 != 0 {
		n += HeaderSize // the footer
	}
	return n, true
}
