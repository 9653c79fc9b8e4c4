package voicetest

import "github.com/streamcatcher/streamcatcher/pipeline/voice"

// DAVE is the DAVE layer's part in a Server: Discord's, as the MLS
// external sender and delivery service (package pipeline/voice/dave
// builds it). The server hands it the sessions that announced DAVE and
// their DAVE messages; it answers through Session.Send and
// Session.SendBinary.
//
// Join and the handlers are called on the session's connection
// goroutine, Leave on whichever goroutine ends the session; none is
// called with a lock of the server's held, and none may block.
type DAVE interface {
	// Join is called once for a session that announced DAVE, after its
	// Session Description (dave_protocol_version 1) is queued: the hook
	// sends it what it needs (op 25, the external sender; op 27,
	// proposals).
	Join(ss *Session)
	// Leave is called when a joined session ends.
	Leave(ss *Session)
	// HandleMessage is given a joined session's DAVE JSON messages (op
	// 23, transition ready; op 31, invalid commit or welcome). An error
	// closes its connection: with the code of a *voice.CloseError it is,
	// else 4002.
	HandleMessage(ss *Session, m voice.Message) error
	// HandleBinary is given a joined session's binary frames (op 26, its
	// key package; op 28, a commit and welcome); payload is valid only
	// during the call. An error closes as HandleMessage's does.
	HandleBinary(ss *Session, op int, payload []byte) error
}
