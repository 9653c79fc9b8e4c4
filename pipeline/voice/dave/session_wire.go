package dave

import (
	"encoding/binary"
	"fmt"
	"math/big"
	"strings"
)

// The variable-length vectors of the gateway's binary payloads (RFC 9420
// section 2.1.2): a length of 1, 2 or 4 bytes (prefix bits 00, 01, 10),
// minimally encoded, then that many bytes.

// appendVarint appends v as a minimal variable-length integer; it reports
// false above 2^30-1.
func appendVarint(b []byte, v uint64) ([]byte, bool) {
	switch {
	case v <= 0x3f:
		return append(b, byte(v)), true
	case v <= 0x3fff:
		return append(b, 0x40|byte(v>>8), byte(v)), true
	case v < 1<<30:
		return append(b, 0x80|byte(v>>24), byte(v>>16), byte(v>>8), byte(v)), true
	default:
		return b, false
	}
}

// appendOpaque appends p as an opaque<V>.
func appendOpaque(b, p []byte) []byte {
	b, ok := appendVarint(b, uint64(len(p)))
	if !ok {
		panic("dave: vector longer than 2^30-1 bytes")
	}
	return append(b, p...)
}

// readOpaque reads an opaque<V> at the start of b and returns its bytes
// (aliasing b) and what follows; field names it in errors, which wrap
// ErrMalformed.
func readOpaque(b []byte, field string) (body, rest []byte, err error) {
	if len(b) == 0 {
		return nil, nil, fmt.Errorf("%w: %s: no length", ErrMalformed, field)
	}
	var n uint64
	var size int
	switch b[0] >> 6 {
	case 0:
		n, size = uint64(b[0]), 1
	case 1:
		if len(b) < 2 {
			return nil, nil, fmt.Errorf("%w: %s: length cut short", ErrMalformed, field)
		}
		n, size = uint64(binary.BigEndian.Uint16(b)&0x3fff), 2
		if n <= 0x3f {
			return nil, nil, fmt.Errorf("%w: %s: length %d not minimally encoded", ErrMalformed, field, n)
		}
	case 2:
		if len(b) < 4 {
			return nil, nil, fmt.Errorf("%w: %s: length cut short", ErrMalformed, field)
		}
		n, size = uint64(binary.BigEndian.Uint32(b)&0x3fffffff), 4
		if n <= 0x3fff {
			return nil, nil, fmt.Errorf("%w: %s: length %d not minimally encoded", ErrMalformed, field, n)
		}
	default:
		return nil, nil, fmt.Errorf("%w: %s: reserved length prefix 11", ErrMalformed, field)
	}
	if n > uint64(len(b)-size) {
		return nil, nil, fmt.Errorf("%w: %s: length %d runs past the %d bytes left", ErrMalformed, field, n, len(b)-size)
	}
	return b[size : size+int(n)], b[size+int(n):], nil
}

// readVector reads b as exactly one vector<V> and returns its body.
func readVector(b []byte, field string) ([]byte, error) {
	body, rest, err := readOpaque(b, field)
	if err != nil {
		return nil, err
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%w: %s: %d bytes left over", ErrMalformed, field, len(rest))
	}
	return body, nil
}

// DisplayableCode returns the displayable form of data that DAVE shows
// for verification (its "Displayable Codes"): length digits, each group
// of groupSize digits made from groupSize bytes of data read big endian,
// modulo 10^groupSize, written with leading zeros. The voice privacy
// code is DisplayableCode(epoch authenticator, 30, 5). It returns an
// error wrapping ErrMalformed if length is not a multiple of groupSize,
// groupSize is not 1 to 8, or data is shorter than length bytes.
func DisplayableCode(data []byte, length, groupSize int) (string, error) {
	if groupSize < 1 || groupSize > 8 || length < 0 || length%groupSize != 0 {
		return "", fmt.Errorf("%w: displayable code of %d digits in groups of %d", ErrMalformed, length, groupSize)
	}
	if len(data) < length {
		return "", fmt.Errorf("%w: %d bytes for a displayable code of %d digits", ErrMalformed, len(data), length)
	}
	mod := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(groupSize)), nil).Uint64()
	var sb strings.Builder
	for i := 0; i < length; i += groupSize {
		var v uint64
		for _, c := range data[i : i+groupSize] {
			v = v<<8 | uint64(c)
		}
		fmt.Fprintf(&sb, "%0*d", groupSize, v%mod)
	}
	return sb.String(), nil
}
