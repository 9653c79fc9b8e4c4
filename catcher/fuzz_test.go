package catcher_test

import (
	"encoding/binary"
	"math"
	"testing"
	"time"
)

// The input of FuzzOperations is a header followed by operations:
//
//	offset  size  field
//	0       2     source length, little endian, modulo fuzzMaxSrc+1
//	2       1     seed of the source's bytes
//	3       1     seed of the source's read counts
//	4       1     largest count of one source Read: fuzzReadSizes[b % 9]
//	5       1     flags: 1 WithFinalise, 2 WithPreload, 4 the source fails,
//	              8 WithMaxBytes, 16 WithWindow, 32 the source's end comes
//	              with its last bytes
//	6       1     growth: b % 4 = default, Constant, Linear, Geometric
//	7       1     growth start: 1 + b % 64
//	8       1     growth max: start + 16*b
//	9       1     length hint: b % 4 = none, exact, smaller, larger
//	10      2     where the source fails: modulo length+1
//	12      2     hint: smaller is modulo length+1, larger is length+1+v
//	14      2     MaxBytes: 1 + v modulo length+16
//	16      2     window: 1 + v modulo 2048
//	18      5*k   operations, at most fuzzMaxOps, each of 5 bytes:
//	              kind (modulo the number of kinds), handle, a (2 bytes), b
//
// An operation's a and b are read as its kind needs: a read's size is
// a modulo fuzzMaxRead+1 and its context mode b modulo 4 (with a timeout of
// a modulo 500 microseconds); an offset is one of 0, -1, MaxInt64, MinInt64
// (by a modulo 4) if b has its top bit, else a modulo length+64, minus 16;
// a seek's whence is b modulo 3.
const (
	fuzzHeader  = 18
	fuzzOpSize  = 5
	fuzzMaxOps  = 200
	fuzzMaxSrc  = 4096
	fuzzMaxRead = 8192
)

var fuzzReadSizes = [...]int{1, 2, 3, 7, 16, 64, 255, 1000, 4096}

// fuzzInput reads the input a byte at a time, zeros once it is used up.
type fuzzInput []byte

func (in *fuzzInput) u8() byte {
	if len(*in) == 0 {
		return 0
	}
	b := (*in)[0]
	*in = (*in)[1:]
	return b
}

func (in *fuzzInput) u16() int { return int(in.u8()) | int(in.u8())<<8 }

// fuzzDecode turns an input into a configuration and operations.
func fuzzDecode(data []byte) (propConfig, []propOp) {
	in := fuzzInput(data)
	var cfg propConfig
	cfg.srcLen = in.u16() % (fuzzMaxSrc + 1)
	cfg.dataSeed = uint64(in.u8())
	cfg.srcSeed = uint64(in.u8())
	cfg.maxRead = fuzzReadSizes[int(in.u8())%len(fuzzReadSizes)]
	flags := in.u8()
	cfg.finalise = flags&1 != 0
	cfg.preload = flags&2 != 0
	cfg.withLast = flags&32 != 0
	cfg.growth = int(in.u8() % 4)
	cfg.start = 1 + int(in.u8()%64)
	cfg.gmax = cfg.start + 16*int(in.u8())
	hintKind := in.u8() % 4
	failAt, hint, maxBytes, window := in.u16(), in.u16(), in.u16(), in.u16()
	cfg.failAt = -1
	if flags&4 != 0 {
		cfg.failAt = failAt % (cfg.srcLen + 1)
	}
	switch hintKind {
	case 1:
		cfg.hint = int64(cfg.srcLen)
	case 2:
		cfg.hint = int64(hint % (cfg.srcLen + 1))
	case 3:
		cfg.hint = int64(cfg.srcLen + 1 + hint)
	}
	if flags&8 != 0 {
		cfg.maxBytes = 1 + int64(maxBytes%(cfg.srcLen+16))
	}
	if flags&16 != 0 {
		cfg.window = 1 + int64(window%2048)
	}

	var ops []propOp
	for len(in) > 0 && len(ops) < fuzzMaxOps {
		op := propOp{kind: propOpKind(in.u8() % byte(propNumOps)), h: int(in.u8())}
		a, b := in.u16(), in.u8()
		op.size = a % (fuzzMaxRead + 1)
		op.ctx = int(b % propNumCtx)
		op.delay = time.Duration(a%500) * time.Microsecond
		op.whence = int(b % 3)
		if b&0x80 != 0 {
			op.off = [...]int64{0, -1, math.MaxInt64, math.MinInt64}[a%4]
		} else {
			op.off = int64(a%(cfg.srcLen+64)) - 16
		}
		ops = append(ops, op)
	}
	return cfg, ops
}

// fuzzSeed encodes a header and operations as FuzzOperations reads them.
func fuzzSeed(srcLen int, flags, growth, start, gmax, hintKind byte, ops ...[fuzzOpSize]byte) []byte {
	b := make([]byte, fuzzHeader, fuzzHeader+len(ops)*fuzzOpSize)
	binary.LittleEndian.PutUint16(b, uint16(srcLen))
	b[2], b[3], b[4], b[5] = 7, 9, 4, flags
	b[6], b[7], b[8], b[9] = growth, start, gmax, hintKind
	binary.LittleEndian.PutUint16(b[10:], uint16(srcLen/2)) // fail at half
	binary.LittleEndian.PutUint16(b[12:], uint16(srcLen/3)) // a smaller hint
	binary.LittleEndian.PutUint16(b[14:], uint16(srcLen/4)) // MaxBytes at a quarter
	binary.LittleEndian.PutUint16(b[16:], 300)              // a window of 301
	for _, op := range ops {
		b = append(b, op[:]...)
	}
	return b
}

// fuzzOp encodes one operation.
func fuzzOp(kind propOpKind, h byte, a uint16, b byte) [fuzzOpSize]byte {
	return [fuzzOpSize]byte{byte(kind), h, byte(a), byte(a >> 8), b}
}

// FuzzOperations runs a sequence of operations, decoded from the input, on
// a Catcher whose source and configuration are also decoded from it, and
// checks every result against the model of the stream (see propWorker.run).
// Whether or not the operations closed the Catcher, it ends by closing it
// and checking that everything then returns ErrClosed.
func FuzzOperations(f *testing.F) {
	f.Add([]byte{})
	f.Add(fuzzSeed(1000, 0, 1, 10, 0, 0,
		fuzzOp(propRead, 0, 100, 0), fuzzOp(propSeek, 0, 500, 0), fuzzOp(propRead, 0, 600, 1),
		fuzzOp(propClone, 0, 0, 0), fuzzOp(propReadAt, 1, 990, 10), fuzzOp(propWriteTo, 1, 0, 0),
		fuzzOp(propStats, 0, 0, 0), fuzzOp(propSeek, 0, 20, 2), fuzzOp(propRead, 0, 50, 0)))
	f.Add(fuzzSeed(3000, 1|2|32, 3, 5, 2, 1, // finalised, preloaded, end with last bytes, exact hint
		fuzzOp(propReady, 0, 2999, 0), fuzzOp(propBuffered, 0, 0, 0), fuzzOp(propReadAt, 0, 3000, 0),
		fuzzOp(propReaderReady, 0, 0, 0), fuzzOp(propStats, 0, 0, 0), fuzzOp(propWait, 0, 0, 0)))
	f.Add(fuzzSeed(2000, 4|8, 2, 3, 1, 2, // failing at 1000, MaxBytes 500, smaller hint
		fuzzOp(propRead, 0, 8000, 2), fuzzOp(propWriteTo, 0, 0, 0), fuzzOp(propSeek, 0, 1, 0x80|1),
		fuzzOp(propReadAt, 0, 10, 0x80|2), fuzzOp(propCloseReader, 0, 0, 0), fuzzOp(propRead, 0, 1, 0)))
	f.Add(fuzzSeed(4000, 16, 0, 0, 0, 3, // window of 301, larger hint
		fuzzOp(propNewReader, 0, 0, 0), fuzzOp(propRead, 1, 1000, 0), fuzzOp(propRead, 1, 3000, 3),
		fuzzOp(propRead, 0, 10, 0), fuzzOp(propSeek, 0, 3000, 0), fuzzOp(propWriteTo, 0, 0, 0),
		fuzzOp(propReadAt, 0, 100, 0)))
	f.Add(fuzzSeed(500, 4, 1, 1, 0, 0, // failing at 250, one-byte chunks, closed midway
		fuzzOp(propRead, 0, 300, 1), fuzzOp(propClose, 0, 0, 0), fuzzOp(propRead, 0, 300, 1),
		fuzzOp(propSeek, 0, 0, 2), fuzzOp(propReady, 0, 400, 0), fuzzOp(propStats, 0, 0, 0)))

	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, ops := fuzzDecode(data)
		e := cfg.newEnv()
		defer e.c.Close()
		w := e.newWorker(0)
		for _, op := range ops {
			w.run(op)
		}
		if !e.closeStarted.Load() {
			if st := e.c.Stats(); st.Waiting != 0 {
				e.failf("%d reads counted as waiting when none is", st.Waiting)
			}
			w.run(propOp{kind: propNewReader})
			w.run(propOp{kind: propWriteTo, h: len(w.hs) - 1})
			w.run(propOp{kind: propStats})
			e.close()
		}
		// Everything after Close: ErrClosed.
		w.run(propOp{kind: propNewReader})
		for _, op := range []propOp{
			{kind: propRead, size: 10}, {kind: propRead, size: 10, ctx: propCtxCanceled},
			{kind: propReadAt, size: 1}, {kind: propWriteTo}, {kind: propSeek, whence: 2},
			{kind: propWait}, {kind: propStats}, {kind: propReady, off: 1 << 20}, {kind: propBuffered},
		} {
			for h := range w.hs {
				op.h = h
				w.run(op)
			}
		}
		w.closeAll()
		if f := e.failures(); f != "" {
			t.Fatalf("%v\n%s", cfg, f)
		}
	})
}
