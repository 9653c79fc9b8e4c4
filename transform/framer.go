package transform

import (
	"errors"
	"fmt"
	"io"
)

// blockFrames bounds the frames a frame-by-frame transform handles in one
// call, so that its input buffer is allocated once, at construction.
const blockFrames = 4096

// framer drives a transform that maps each input frame to one output frame:
// it reads whole frames, keeps a partial one for the next call, and ends the
// stream.
type framer struct {
	in, out int    // bytes per input and output frame
	buf     []byte // input; sized once
	have    int    // bytes of a partial frame at buf[:have]
	err     error  // sticky once the stream has ended
}

// frameProc converts whole frames: src holds k input frames and dst room
// for exactly k output frames.
type frameProc interface {
	process(dst, src []byte)
}

func newFramer(in, out int) framer {
	return framer{in: in, out: out, buf: make([]byte, blockFrames*in)}
}

// step is one call of the Transform contract, with p converting the frames.
func (f *framer) step(dst []byte, src io.Reader, p frameProc) (int, error) {
	if f.err != nil {
		return 0, f.err
	}
	frames := min(len(dst)/f.out, blockFrames)
	if frames == 0 {
		return 0, shortDst(len(dst), f.out)
	}
	want := frames * f.in
	k, err := src.Read(f.buf[f.have:want])
	if k < 0 || k > want-f.have {
		k, err = 0, badCount(k, want-f.have)
	}
	total := f.have + k
	whole := total / f.in
	p.process(dst[:whole*f.out], f.buf[:whole*f.in])
	f.have = copy(f.buf, f.buf[whole*f.in:total])
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.EOF
			if f.have > 0 {
				err = partialFrame(f.have, f.in)
			}
		}
		f.err = err
	}
	return whole * f.out, err
}

func shortDst(n, need int) error {
	return fmt.Errorf("%w: dst of %d bytes, less than MinSpace %d", io.ErrShortBuffer, n, need)
}

func badCount(n, size int) error {
	return fmt.Errorf("transform: source Read returned %d for %d bytes", n, size)
}

func partialFrame(have, frame int) error {
	return fmt.Errorf("%w: %d trailing bytes, frame is %d", ErrPartialFrame, have, frame)
}
