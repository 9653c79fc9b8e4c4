package voice

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
)

// IP discovery: a client sends a request with its SSRC to the server's UDP
// address and learns, from the response, its address as the server sees
// it. Both are 74 bytes, big-endian:
//
//	0      2      4          8                                    72     74
//	+------+------+----------+------------------------------------+------+
//	| type | 70   | SSRC     | address, NUL-terminated (response) | port |
//	+------+------+----------+------------------------------------+------+
//
// type is 1 for a request and 2 for a response.
const (
	// DiscoverySize is the size of both messages.
	DiscoverySize     = 74
	discoveryRequest  = 1
	discoveryResponse = 2
	discoveryLength   = 70
)

// DiscoveryRequest returns the request for ssrc.
func DiscoveryRequest(ssrc uint32) []byte {
	b := make([]byte, DiscoverySize)
	binary.BigEndian.PutUint16(b[0:], discoveryRequest)
	binary.BigEndian.PutUint16(b[2:], discoveryLength)
	binary.BigEndian.PutUint32(b[4:], ssrc)
	return b
}

// DiscoveryResponse appends to dst the response telling ssrc its address.
func DiscoveryResponse(dst []byte, ssrc uint32, addr netip.AddrPort) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, DiscoverySize)...)
	b := dst[start:]
	binary.BigEndian.PutUint16(b[0:], discoveryResponse)
	binary.BigEndian.PutUint16(b[2:], discoveryLength)
	binary.BigEndian.PutUint32(b[4:], ssrc)
	copy(b[8:71], addr.Addr().Unmap().String()) // at most 45 bytes; byte 71 stays NUL
	binary.BigEndian.PutUint16(b[72:], addr.Port())
	return dst
}

// IsDiscovery reports whether the datagram b is an IP discovery message
// (of either type) rather than RTP: RTP's first byte has version 2 in its
// top bits, a discovery message's is 0.
func IsDiscovery(b []byte) bool {
	return len(b) == DiscoverySize && b[0] == 0 && b[2] == 0 && b[3] == discoveryLength
}

// ParseDiscoveryRequest returns the SSRC of a request.
func ParseDiscoveryRequest(b []byte) (uint32, error) {
	if err := checkDiscovery(b, discoveryRequest); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b[4:]), nil
}

// ParseDiscoveryResponse returns the SSRC and the address of a response.
func ParseDiscoveryResponse(b []byte) (uint32, netip.AddrPort, error) {
	if err := checkDiscovery(b, discoveryResponse); err != nil {
		return 0, netip.AddrPort{}, err
	}
	field := b[8:72]
	end := bytes.IndexByte(field, 0)
	if end < 0 {
		return 0, netip.AddrPort{}, fmt.Errorf("%w: address not NUL-terminated", ErrBadDiscovery)
	}
	ip, err := netip.ParseAddr(string(field[:end]))
	if err != nil {
		return 0, netip.AddrPort{}, fmt.Errorf("%w: address %q", ErrBadDiscovery, field[:end])
	}
	return binary.BigEndian.Uint32(b[4:]), netip.AddrPortFrom(ip, binary.BigEndian.Uint16(b[72:])), nil
}

func checkDiscovery(b []byte, typ uint16) error {
	if len(b) != DiscoverySize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrBadDiscovery, len(b), DiscoverySize)
	}
	if t := binary.BigEndian.Uint16(b); t != typ {
		return fmt.Errorf("%w: type %d, want %d", ErrBadDiscovery, t, typ)
	}
	if n := binary.BigEndian.Uint16(b[2:]); n != discoveryLength {
		return fmt.Errorf("%w: length field %d, want %d", ErrBadDiscovery, n, discoveryLength)
	}
	return nil
}

// KeepAliveSize is the size of discord.js's UDP keep-alive datagram: a
// 32-bit little-endian counter, then four zero bytes. It sends one every
// 5 s to keep its NAT binding open; the server counts it and does not
// answer (discord.js does not wait for an answer).
const KeepAliveSize = 8

// KeepAlive returns the keep-alive datagram numbered n.
func KeepAlive(n uint32) []byte {
	b := make([]byte, KeepAliveSize)
	binary.LittleEndian.PutUint32(b, n)
	return b
}

// IsKeepAlive reports whether the datagram b is a keep-alive: too short
// to be RTP (12 bytes or more) or IP discovery.
func IsKeepAlive(b []byte) bool {
	return len(b) == KeepAliveSize && binary.LittleEndian.Uint32(b[4:]) == 0
}
