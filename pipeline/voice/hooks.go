package voice

// E2EE is the end-to-end layer's part in a Conn: DAVE's (package
// pipeline/voice/dave builds it). The Conn announces its version in
// Identify, tells it the version each session was described with, and
// hands it DAVE's messages; the layer answers through the Conn's
// SendMessage and SendBinary, and encrypts the frames sent through a
// sink.FrameEncryptor given with WithSenderOptions.
//
// Its methods are called on the Conn's control goroutine, one at a time:
// they must not block, nor call Close.
type E2EE interface {
	// MaxProtocolVersion is the highest DAVE version the layer speaks,
	// sent as Identify's max_dave_protocol_version (0: none).
	MaxProtocolVersion() int
	// SessionDescribed is called when a session (the first, one
	// identified anew, or one after a region move) is described (op 4),
	// with its dave_protocol_version (0: transport encryption alone).
	SessionDescribed(version int)
	// HandleMessage is given the server's JSON messages with DAVE's
	// opcodes (21, 22, 24), and Clients Connect and Client Disconnect
	// (11, 13), which change the group.
	HandleMessage(m Message)
	// HandleBinary is given the payload of each binary frame the server
	// sends (opcodes 25, 27, 29, 30); it aliases the Conn's read buffer
	// and is valid only during the call.
	HandleBinary(op int, payload []byte)
}

// FrameDecryptor decrypts the end-to-end layer of the frames a Conn
// receives (DAVE's), by their sender. Decrypt is called on the Conn's
// UDP reader goroutine, one call at a time; frame is valid only during
// the call, and the result may alias a buffer of the decryptor's, valid
// until its next call (the Conn copies it). An error (a wrong key, a
// replay, a frame not encrypted while it must be) drops the frame, and
// the Conn counts it.
type FrameDecryptor interface {
	Decrypt(userID string, frame []byte) ([]byte, error)
}
