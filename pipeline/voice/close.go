package voice

import "fmt"

// Close codes of the voice gateway, and what a Conn does after each
// (Discord's documentation; songbird and discord.js do the same):
//
//	resume            a drop without a code (1000-3999), 4015
//	identify anew     4006, 4009 (the session is gone; the same session ID)
//	end, naming it    the rest: 4004 authentication failed, 4014
//	                  disconnected (kicked, the channel deleted), 4022
//	                  call terminated, 4017 DAVE required, and the
//	                  codes of a client's own mistakes (4001-4005,
//	                  4011, 4012, 4016, 4020, 4021)
const (
	CloseUnknownOpcode         = 4001 // an op the server does not know
	CloseDecodeError           = 4002 // a message that does not parse
	CloseNotAuthenticated      = 4003 // a message before Identify
	CloseAuthenticationFailed  = 4004 // a wrong token
	CloseAlreadyAuthenticated  = 4005 // a second Identify
	CloseSessionInvalid        = 4006 // a session that is gone: identify anew
	CloseSessionTimeout        = 4009 // no heartbeat in time
	CloseServerNotFound        = 4011 // an unknown server_id
	CloseUnknownProtocol       = 4012 // a protocol other than "udp"
	CloseDisconnected          = 4014 // removed from the channel: do not reconnect
	CloseServerCrashed         = 4015 // the server failed: resume
	CloseUnknownEncryptionMode = 4016 // a mode the server does not offer
	CloseE2EERequired          = 4017 // DAVE is required and the client lacks it
	CloseBadRequest            = 4020 // a request the server refuses (an old version)
	CloseRateLimited           = 4021 // too many messages
	CloseCallTerminated        = 4022 // the call ended: do not reconnect
)

var closeNames = map[int]string{
	CloseUnknownOpcode:         "unknown opcode",
	CloseDecodeError:           "failed to decode payload",
	CloseNotAuthenticated:      "not authenticated",
	CloseAuthenticationFailed:  "authentication failed",
	CloseAlreadyAuthenticated:  "already authenticated",
	CloseSessionInvalid:        "session no longer valid",
	CloseSessionTimeout:        "session timeout",
	CloseServerNotFound:        "server not found",
	CloseUnknownProtocol:       "unknown protocol",
	CloseDisconnected:          "disconnected",
	CloseServerCrashed:         "voice server crashed",
	CloseUnknownEncryptionMode: "unknown encryption mode",
	CloseE2EERequired:          "E2EE/DAVE protocol required",
	CloseBadRequest:            "bad request",
	CloseRateLimited:           "rate limited",
	CloseCallTerminated:        "call terminated",
}

// CloseError is a connection closed by the server with one of the close
// codes, and the reason it gave. Its Error names the code.
type CloseError struct {
	Code   int    // the WebSocket close code
	Reason string // the close frame's reason, as the server gave it
}

func (e *CloseError) Error() string {
	name := closeNames[e.Code]
	if name == "" {
		name = "closed"
	}
	if e.Reason == "" {
		return fmt.Sprintf("voice: %s (%d)", name, e.Code)
	}
	return fmt.Sprintf("voice: %s (%d): %s", name, e.Code, e.Reason)
}

// Resumable reports whether a client may resume its session after this
// close (a drop, 4015); otherwise it may identify anew (4006, 4009:
// Reconnect) or must stop (the rest).
func (e *CloseError) Resumable() bool {
	return e.Code < 4000 || e.Code == CloseServerCrashed
}

// Reconnect reports whether a client should connect again at all: by
// resuming (Resumable) or identifying anew (4006, 4009). Otherwise the
// close is final.
func (e *CloseError) Reconnect() bool {
	switch e.Code {
	case CloseSessionInvalid, CloseSessionTimeout, CloseServerCrashed:
		return true
	}
	return e.Code < 4000
}
