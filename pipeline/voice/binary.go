package voice

import (
	"encoding/binary"
	"fmt"
)

// Binary frames carry DAVE's MLS messages (opcodes 25 to 30). The
// server's begin with the sequence number, which the client counts in
// its seq_ack like a JSON message's; the client's with the opcode:
//
//	server → client:  | seq (u16, big-endian) | op (u8) | payload ... |
//	client → server:  | op (u8) | payload ... |
//
// A client ignores the opcodes it does not know, as Discord's do.

// ParseServerBinary splits a server's binary frame into its sequence
// number, opcode and payload (which aliases b).
func ParseServerBinary(b []byte) (seq uint16, op int, payload []byte, err error) {
	if len(b) < 3 {
		return 0, 0, nil, fmt.Errorf("%w: %d bytes from the server, want 3 or more", ErrBadBinary, len(b))
	}
	return binary.BigEndian.Uint16(b), int(b[2]), b[3:], nil
}

// AppendServerBinary appends a server's binary frame to dst.
func AppendServerBinary(dst []byte, seq uint16, op int, payload []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, seq)
	return append(append(dst, byte(op)), payload...)
}

// ParseClientBinary splits a client's binary frame into its opcode and
// payload (which aliases b).
func ParseClientBinary(b []byte) (op int, payload []byte, err error) {
	if len(b) < 1 {
		return 0, nil, fmt.Errorf("%w: empty frame from the client", ErrBadBinary)
	}
	return int(b[0]), b[1:], nil
}

// AppendClientBinary appends a client's binary frame to dst.
func AppendClientBinary(dst []byte, op int, payload []byte) []byte {
	return append(append(dst, byte(op)), payload...)
}
