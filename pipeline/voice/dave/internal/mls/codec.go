package mls

import (
	"encoding/binary"
	"fmt"
)

// maxVarint is the largest value the variable-length integer of RFC 9420
// section 2.1.2 can carry (30 bits).
const maxVarint = 1<<30 - 1

// appendVarint appends v as the minimal variable-length integer of RFC 9420
// section 2.1.2: one byte (prefix 00) up to 63, two (01) up to 16383, four
// (10) up to 2^30-1. It reports false for larger values.
func appendVarint(b []byte, v uint64) ([]byte, bool) {
	switch {
	case v <= 0x3f:
		return append(b, byte(v)), true
	case v <= 0x3fff:
		return append(b, 0x40|byte(v>>8), byte(v)), true
	case v <= maxVarint:
		return append(b, 0x80|byte(v>>24), byte(v>>16), byte(v>>8), byte(v)), true
	default:
		return b, false
	}
}

// readVarint decodes the variable-length integer at the start of b and
// returns it with the number of bytes it took. It rejects the prefix 11, a
// value cut short and a value not minimally encoded, wrapping ErrMalformed.
func readVarint(b []byte) (v uint64, n int, err error) {
	if len(b) == 0 {
		return 0, 0, fmt.Errorf("%w: varint: no bytes", ErrMalformed)
	}
	switch b[0] >> 6 {
	case 0:
		return uint64(b[0]), 1, nil
	case 1:
		if len(b) < 2 {
			return 0, 0, fmt.Errorf("%w: varint: 2-byte length cut short", ErrMalformed)
		}
		v = uint64(b[0]&0x3f)<<8 | uint64(b[1])
		if v <= 0x3f {
			return 0, 0, fmt.Errorf("%w: varint: %d not minimally encoded in 2 bytes", ErrMalformed, v)
		}
		return v, 2, nil
	case 2:
		if len(b) < 4 {
			return 0, 0, fmt.Errorf("%w: varint: 4-byte length cut short", ErrMalformed)
		}
		v = uint64(b[0]&0x3f)<<24 | uint64(b[1])<<16 | uint64(b[2])<<8 | uint64(b[3])
		if v <= 0x3fff {
			return 0, 0, fmt.Errorf("%w: varint: %d not minimally encoded in 4 bytes", ErrMalformed, v)
		}
		return v, 4, nil
	default:
		return 0, 0, fmt.Errorf("%w: varint: reserved prefix 11 in %#02x", ErrMalformed, b[0])
	}
}

// writer appends the TLS presentation-language encoding of RFC 9420
// section 2.1 to a byte slice. The first failure (a vector longer than a
// variable-length integer can say) is kept in err and later calls do
// nothing.
type writer struct {
	b   []byte
	err error
}

func (w *writer) u8(v uint8)   { w.b = append(w.b, v) }
func (w *writer) u16(v uint16) { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *writer) u32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *writer) u64(v uint64) { w.b = binary.BigEndian.AppendUint64(w.b, v) }

// raw appends b as it is, with no length.
func (w *writer) raw(b []byte) { w.b = append(w.b, b...) }

// opaque appends b as an opaque<V>: its length as a varint, then its bytes.
func (w *writer) opaque(b []byte) {
	if w.err != nil {
		return
	}
	var ok bool
	if w.b, ok = appendVarint(w.b, uint64(len(b))); !ok {
		w.err = fmt.Errorf("%w: vector of %d bytes is longer than 2^30-1", ErrMalformed, len(b))
		return
	}
	w.b = append(w.b, b...)
}

// vector appends a T<V>: the elements f writes, prefixed by their total
// length in bytes.
func (w *writer) vector(f func(w *writer)) {
	inner := writer{}
	f(&inner)
	if inner.err != nil && w.err == nil {
		w.err = inner.err
	}
	w.opaque(inner.b)
}

// optional appends the presence octet of an optional<T>, and the value
// through f when present is true.
func (w *writer) optional(present bool, f func(w *writer)) {
	if !present {
		w.u8(0)
		return
	}
	w.u8(1)
	f(w)
}

// encoder is a structure with a TLS presentation-language encoding.
type encoder interface {
	encode(w *writer)
}

// marshal returns the encoding of e.
func marshal(e encoder) ([]byte, error) {
	w := writer{}
	e.encode(&w)
	if w.err != nil {
		return nil, w.err
	}
	return w.b, nil
}

// reader decodes the TLS presentation-language encoding of RFC 9420
// section 2.1. The first failure is kept in err, naming the field; later
// reads return zero values. Nothing is allocated from a length before the
// bytes it announces are there: a vector's length is checked against what
// is left before it is read.
type reader struct {
	b   []byte
	err error
}

// fail records the first failure, naming field.
func (r *reader) fail(field, format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s: %s", ErrMalformed, field, fmt.Sprintf(format, args...))
	}
	r.b = nil
}

// take returns the next n bytes, or nil after recording a failure.
func (r *reader) take(field string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if n > len(r.b) {
		r.fail(field, "need %d bytes, have %d", n, len(r.b))
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

func (r *reader) u8(field string) uint8 {
	if p := r.take(field, 1); p != nil {
		return p[0]
	}
	return 0
}

func (r *reader) u16(field string) uint16 {
	if p := r.take(field, 2); p != nil {
		return binary.BigEndian.Uint16(p)
	}
	return 0
}

func (r *reader) u32(field string) uint32 {
	if p := r.take(field, 4); p != nil {
		return binary.BigEndian.Uint32(p)
	}
	return 0
}

func (r *reader) u64(field string) uint64 {
	if p := r.take(field, 8); p != nil {
		return binary.BigEndian.Uint64(p)
	}
	return 0
}

// length reads the varint length of a vector and checks that that many
// bytes follow.
func (r *reader) length(field string) int {
	if r.err != nil {
		return 0
	}
	v, n, err := readVarint(r.b)
	if err != nil {
		r.fail(field, "length: %v", err)
		return 0
	}
	r.b = r.b[n:]
	if v > uint64(len(r.b)) {
		r.fail(field, "length %d runs past the %d bytes left", v, len(r.b))
		return 0
	}
	return int(v)
}

// opaque reads an opaque<V> and returns a copy of its bytes (never nil
// when the read succeeds, so that an empty vector and a failure differ).
func (r *reader) opaque(field string) []byte {
	n := r.length(field)
	p := r.take(field, n)
	if p == nil {
		return nil
	}
	return append(make([]byte, 0, n), p...)
}

// vector reads a T<V>: it calls f with a reader over the vector's bytes
// until they are used up. An element that reads nothing is a failure (it
// would loop forever).
func (r *reader) vector(field string, f func(r *reader)) {
	n := r.length(field)
	body := r.take(field, n)
	if r.err != nil {
		return
	}
	sub := reader{b: body}
	for len(sub.b) > 0 && sub.err == nil {
		before := len(sub.b)
		f(&sub)
		if sub.err == nil && len(sub.b) == before {
			sub.fail(field, "element reads no bytes")
		}
	}
	if sub.err != nil {
		r.err = sub.err
		r.b = nil
	}
}

// optional reads the presence octet of an optional<T>.
func (r *reader) optional(field string) bool {
	switch p := r.u8(field); {
	case r.err != nil:
		return false
	case p == 0:
		return false
	case p == 1:
		return true
	default:
		r.fail(field, "presence octet %d is neither 0 nor 1", p)
		return false
	}
}

// decoder is a structure that can read its TLS presentation-language
// encoding.
type decoder interface {
	decode(r *reader)
}

// unmarshal decodes b, which must hold exactly one d, into d.
func unmarshal(b []byte, d decoder, name string) error {
	r := reader{b: b}
	d.decode(&r)
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %s: %d bytes left over", ErrMalformed, name, len(r.b))
	}
	return nil
}
