package voice

import "errors"

// Errors of the voice package. Connection ends by the server's close
// codes are *CloseError (errors.As), naming the code.
var (
	// ErrBadMessage is the error for a control message that is not JSON,
	// is too large, lacks its op, or whose payload does not fit its op.
	ErrBadMessage = errors.New("voice: malformed message")

	// ErrBadBinary is the error for a binary frame too short to hold its
	// header (DAVE's opcodes 21 to 31 travel in them).
	ErrBadBinary = errors.New("voice: malformed binary frame")

	// ErrBadDiscovery is the error for a datagram that is not a
	// well-formed IP discovery message.
	ErrBadDiscovery = errors.New("voice: malformed IP discovery packet")

	// ErrNoMode is returned by Connect when the server offers none of
	// the client's encryption modes.
	ErrNoMode = errors.New("voice: no encryption mode in common")

	// ErrHandshake wraps what went wrong while joining (Connect, a
	// resume, a new Identify, a region move): the detail says what.
	ErrHandshake = errors.New("voice: handshake failed")

	// ErrClosed is returned by a Conn's methods after Close.
	ErrClosed = errors.New("voice: connection closed")

	// ErrNotReconnected ends a Conn that lost its connection and could
	// not resume it, identify anew or reach a new endpoint in time
	// (WithReconnectFor); it wraps the last attempt's error.
	ErrNotReconnected = errors.New("voice: not reconnected in time")
)
