package sink

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// DCA is the format of Discord bots' pre-encoded audio (jonas747/dca,
// songbird): DCA0 is a run of frames, each a 16-bit little-endian length
// then the Opus packet; DCA1 is "DCA1", a 32-bit little-endian length, that
// many bytes of JSON metadata, then DCA0 frames.

// ErrDCA is wrapped by the errors of a malformed DCA stream.
var ErrDCA = errors.New("sink: malformed DCA")

// maxDCAMetadata bounds the JSON a DCAReader reads.
const maxDCAMetadata = 1 << 20

// DCAMetadata is DCA1's JSON header, as jonas747/dca writes it.
type DCAMetadata struct {
	DCA struct {
		Version int `json:"version"`
		Tool    struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			URL     string `json:"url"`
			Author  string `json:"author"`
		} `json:"tool"`
	} `json:"dca"`
	Opus struct {
		// Bitrate in kbit/s.
		Bitrate    int    `json:"abr"`
		SampleRate int    `json:"sample_rate"`
		Mode       string `json:"mode"`
		// FrameSize is written differently by different tools (960 x
		// channels, or 3840): a reader must not rely on it.
		FrameSize int  `json:"frame_size"`
		Channels  int  `json:"channels"`
		VBR       bool `json:"vbr"`
	} `json:"opus"`
	Info struct {
		Title    string  `json:"title"`
		Artist   string  `json:"artist"`
		Album    string  `json:"album"`
		Genre    string  `json:"genre"`
		Comments string  `json:"comments"`
		Cover    *string `json:"cover"`
	} `json:"info"`
	Origin struct {
		Source   string `json:"source"`
		Bitrate  int    `json:"abr"`
		Channels int    `json:"channels"`
		Encoding string `json:"encoding"`
		URL      string `json:"url"`
	} `json:"origin"`
	Extra map[string]any `json:"extra"`
}

// NewDCAMetadata returns DCA1 metadata for Opus at 48 kHz with the given
// channels and bitrate (bit/s), naming this package as the tool.
func NewDCAMetadata(channels, bitrate int, vbr bool) *DCAMetadata {
	m := &DCAMetadata{Extra: map[string]any{}}
	m.DCA.Version = 1
	m.DCA.Tool.Name = "streamcatcher"
	m.DCA.Tool.URL = "https://github.com/streamcatcher/streamcatcher"
	m.Opus.Bitrate = bitrate / 1000
	m.Opus.SampleRate = 48000
	m.Opus.Mode = "audio"
	m.Opus.FrameSize = 960
	m.Opus.Channels = channels
	m.Opus.VBR = vbr
	m.Origin.Source = "file"
	m.Origin.Channels = channels
	m.Origin.Encoding = "opus"
	return m
}

// DCAWriter writes a DCA stream: one Opus packet per Write.
type DCAWriter struct {
	w      io.Writer
	meta   *DCAMetadata
	head   bool
	hdr    [2]byte
	frames int64
	err    error
}

// NewDCAWriter returns a writer of DCA1 with meta, or of DCA0 when meta is
// nil. Nothing is written until the first packet (or Flush).
func NewDCAWriter(w io.Writer, meta *DCAMetadata) *DCAWriter {
	return &DCAWriter{w: w, meta: meta}
}

func (d *DCAWriter) header() error {
	if d.head || d.err != nil {
		return d.err
	}
	d.head = true
	if d.meta == nil {
		return nil
	}
	js, err := json.Marshal(d.meta)
	if err != nil {
		d.err = fmt.Errorf("sink: DCA metadata: %w", err)
		return d.err
	}
	b := make([]byte, 8, 8+len(js))
	copy(b, "DCA1")
	binary.LittleEndian.PutUint32(b[4:], uint32(len(js)))
	if _, err := d.w.Write(append(b, js...)); err != nil {
		d.err = err
	}
	return d.err
}

// Write writes p as one frame; p must be one whole Opus packet of at most
// 32767 bytes (DCA's lengths are signed).
func (d *DCAWriter) Write(p []byte) (int, error) {
	if err := d.header(); err != nil {
		return 0, err
	}
	if len(p) == 0 || len(p) > 32767 {
		return 0, fmt.Errorf("%w: a frame of %d bytes", ErrDCA, len(p))
	}
	binary.LittleEndian.PutUint16(d.hdr[:], uint16(len(p)))
	if _, err := d.w.Write(d.hdr[:]); err != nil {
		d.err = err
		return 0, err
	}
	if _, err := d.w.Write(p); err != nil {
		d.err = err
		return 0, err
	}
	d.frames++
	return len(p), nil
}

// Flush writes the DCA1 header if no packet has been written yet.
func (d *DCAWriter) Flush() error { return d.header() }

// Frames returns the frames written.
func (d *DCAWriter) Frames() int64 { return d.frames }

// DCAReader reads DCA0 and DCA1 streams.
type DCAReader struct {
	r    *bufio.Reader
	meta *DCAMetadata
	buf  []byte
	off  int64
}

// NewDCAReader reads the header, if any, of the DCA stream r.
func NewDCAReader(r io.Reader) (*DCAReader, error) {
	d := &DCAReader{r: bufio.NewReader(r)}
	magic, err := d.r.Peek(4)
	if err != nil && len(magic) == 0 && err == io.EOF {
		return d, nil // an empty DCA0 stream
	}
	if string(magic) != "DCA1" {
		return d, nil
	}
	var hdr [8]byte
	if _, err := io.ReadFull(d.r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrDCA, noEOF(err))
	}
	n := int32(binary.LittleEndian.Uint32(hdr[4:]))
	if n < 0 || n > maxDCAMetadata {
		return nil, fmt.Errorf("%w: metadata length %d", ErrDCA, n)
	}
	js := make([]byte, n)
	if _, err := io.ReadFull(d.r, js); err != nil {
		return nil, fmt.Errorf("%w: metadata: %w", ErrDCA, noEOF(err))
	}
	d.meta = new(DCAMetadata)
	if err := json.Unmarshal(js, d.meta); err != nil {
		return nil, fmt.Errorf("%w: metadata: %w", ErrDCA, err)
	}
	d.off = 8 + int64(n)
	return d, nil
}

// Metadata returns DCA1's metadata, or nil for DCA0.
func (d *DCAReader) Metadata() *DCAMetadata { return d.meta }

// ReadPacket returns the next Opus packet, valid until the next call;
// io.EOF at the end, an error wrapping ErrDCA for a negative or zero
// length or a frame cut short.
func (d *DCAReader) ReadPacket() ([]byte, error) {
	var hdr [2]byte
	if _, err := io.ReadFull(d.r, hdr[:]); err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("%w: frame length at byte %d: %w", ErrDCA, d.off, noEOF(err))
	}
	n := int16(binary.LittleEndian.Uint16(hdr[:]))
	if n <= 0 {
		return nil, fmt.Errorf("%w: frame length %d at byte %d", ErrDCA, n, d.off)
	}
	if cap(d.buf) < int(n) {
		d.buf = make([]byte, n)
	}
	b := d.buf[:n]
	if _, err := io.ReadFull(d.r, b); err != nil {
		return nil, fmt.Errorf("%w: frame of %d bytes at byte %d: %w", ErrDCA, n, d.off, noEOF(err))
	}
	d.off += 2 + int64(n)
	return b, nil
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
