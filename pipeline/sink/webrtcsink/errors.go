package webrtcsink

import "errors"

// Errors of a Server, its peers and fanouts.
var (
	// ErrPeerClosed is returned by Send to a peer whose connection was
	// closed, by either side.
	ErrPeerClosed = errors.New("webrtcsink: peer closed")
	// ErrPeerFailed is a peer's Err when its connection failed, or did not
	// connect within the connect timeout.
	ErrPeerFailed = errors.New("webrtcsink: peer failed")
	// ErrFanoutPeer is returned by Send to a peer added to a Fanout, which
	// sends to it itself.
	ErrFanoutPeer = errors.New("webrtcsink: peer is sent to by its fanout")
	// ErrFanoutClosed is returned by a Fanout's Send after Close.
	ErrFanoutClosed = errors.New("webrtcsink: fanout closed")
	// ErrServerClosed is returned by Answer after Close.
	ErrServerClosed = errors.New("webrtcsink: server closed")
)
