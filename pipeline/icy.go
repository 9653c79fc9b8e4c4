package pipeline

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ICY metadata, as Icecast and Shoutcast send it to a client that asked
// with Icy-MetaData: 1: the response's icy-metaint header gives the
// interval N, and after every N bytes of audio comes one metadata block:
//
//	+--------+----------------------------------------------+
//	| L (1B) | 16*L bytes: StreamTitle='...';StreamUrl='...'; |
//	+--------+----------------------------------------------+
//	           padded with NUL bytes; L = 0 is an empty block
//
// A block is thus at most 16*255 = 4080 bytes: the parser reads it into a
// buffer of that size, so no length field makes it allocate.
const (
	icyMaxBlock = 16 * 255

	// icyMaxInterval bounds icy-metaint: servers send 8192 to 32768 (and
	// Icecast 16000); a larger one is no radio's.
	icyMaxInterval = 1 << 20
)

// icyMeta is one metadata block's fields.
type icyMeta struct {
	title, url string
	hasTitle   bool // StreamTitle was there (an empty title is a title)
}

// icyReader strips the ICY metadata blocks from a stream's bytes, so that
// what it reads is exactly the stream's audio, and calls meta with each
// non-empty block's fields and the number of audio bytes read before it.
//
// A block cut short by the end of the stream is an error wrapping both
// ErrICY and io.ErrUnexpectedEOF; a block that does not parse, one
// wrapping ErrICY alone, marked permanent (no reconnect mends it); the end at a block's boundary, or within the
// audio between blocks, is io.EOF. After an error every Read returns it.
// An icyReader is for one goroutine.
type icyReader struct {
	r        io.Reader
	interval int // icy-metaint
	left     int // audio bytes before the next block
	audio    int64
	meta     func(m icyMeta, audio int64)
	err      error
	buf      [1 + icyMaxBlock]byte
}

// newICYReader returns a reader of r's audio, with blocks every interval
// bytes (1 to icyMaxInterval: parseMetaint's).
func newICYReader(r io.Reader, interval int, meta func(icyMeta, int64)) *icyReader {
	return &icyReader{r: r, interval: interval, left: interval, meta: meta}
}

// parseMetaint parses an icy-metaint header value.
func parseMetaint(v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 1 || n > icyMaxInterval {
		return 0, fmt.Errorf("%w: icy-metaint %q is not an interval of 1 to %d bytes", ErrICY, v, icyMaxInterval)
	}
	return n, nil
}

// Read reads the audio, at most up to the next block.
func (r *icyReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if r.left == 0 {
		if err := r.block(); err != nil {
			r.err = err
			return 0, err
		}
	}
	if len(p) > r.left {
		p = p[:r.left]
	}
	n, err := r.r.Read(p)
	r.left -= n
	r.audio += int64(n)
	if err != nil {
		r.err = err
	}
	return n, err
}

// block reads and parses the metadata block at the reader's position.
func (r *icyReader) block() error {
	if _, err := io.ReadFull(r.r, r.buf[:1]); err != nil {
		return err // io.EOF at the boundary: the end
	}
	size := 16 * int(r.buf[0])
	b := r.buf[1 : 1+size]
	if n, err := io.ReadFull(r.r, b); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return fmt.Errorf("%w: metadata block cut short after %d of %d bytes, at audio byte %d: %w",
				ErrICY, n, size, r.audio, io.ErrUnexpectedEOF)
		}
		return err
	}
	r.left = r.interval
	if size == 0 {
		return nil
	}
	m, err := parseICYMeta(b)
	if err != nil {
		return permanent(fmt.Errorf("%w (the block after audio byte %d)", err, r.audio))
	}
	if r.meta != nil {
		r.meta(m, r.audio)
	}
	return nil
}

// parseICYMeta parses a metadata block: fields Key='value'; one after the
// other, then NUL padding. It is lenient where servers are sloppy: a
// value may hold quotes and semicolons (a field ends only where the next
// Key=' begins, or at the end), the last field's closing quote or
// semicolon may be missing, and a value that is not UTF-8 is taken as
// Latin-1 (what Shoutcast sends). A block with bytes but no field, or a
// field without its =', is refused (the interval is not the stream's, or
// the server is not speaking ICY): its bytes are quoted in the error.
func parseICYMeta(b []byte) (icyMeta, error) {
	var m icyMeta
	b = bytes.TrimRight(b, "\x00")
	if len(bytes.TrimSpace(b)) == 0 {
		return m, nil
	}
	starts := icyFieldStarts(b)
	if len(starts) == 0 || starts[0] != 0 {
		return m, fmt.Errorf("%w: a metadata block of %d bytes that is not Key='value'; fields: %.64q", ErrICY, len(b), b)
	}
	for i, start := range starts {
		end := len(b)
		if i+1 < len(starts) {
			end = starts[i+1]
		}
		key, value, _ := bytes.Cut(b[start:end], []byte("='"))
		value = bytes.TrimSuffix(bytes.TrimRight(value, " \t\r\n"), []byte(";"))
		value = bytes.TrimSuffix(value, []byte("'"))
		switch string(key) {
		case "StreamTitle":
			m.title, m.hasTitle = icyText(value), true
		case "StreamUrl":
			m.url = icyText(value)
		}
	}
	return m, nil
}

// icyFieldStarts returns where each field of b begins: at 0 or after a
// ';' (and any spaces), a key of letters, digits and '_', then ='.
func icyFieldStarts(b []byte) []int {
	var starts []int
	for i := 0; i < len(b); i++ {
		if i > 0 && b[i-1] != ';' {
			continue
		}
		j := i
		for j < len(b) && b[j] == ' ' {
			j++
		}
		k := j
		for k < len(b) && (b[k] == '_' || b[k] >= 'a' && b[k] <= 'z' || b[k] >= 'A' && b[k] <= 'Z' || b[k] >= '0' && b[k] <= '9') {
			k++
		}
		if k > j && k+1 < len(b) && b[k] == '=' && b[k+1] == '\'' {
			starts = append(starts, j)
			i = k + 1
		}
	}
	return starts
}

// icyText decodes a value: UTF-8 if it is valid UTF-8, else Latin-1.
func icyText(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}
