package voice

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Version is the gateway version this package speaks (the URL's ?v=8).
// A server refuses versions below MinVersion.
const (
	Version    = 8
	MinVersion = 4
)

// Opcodes of the voice gateway.
const (
	OpIdentify           = 0  // client: begin a session
	OpSelectProtocol     = 1  // client: its UDP address and the mode chosen
	OpReady              = 2  // server: SSRC, UDP address, modes offered
	OpHeartbeat          = 3  // client: keep-alive with a nonce and seq_ack
	OpSessionDescription = 4  // server: the mode and the secret key
	OpSpeaking           = 5  // both: speaking flags, before any audio
	OpHeartbeatACK       = 6  // server: the heartbeat's nonce echoed
	OpResume             = 7  // client: resume a session on a new connection
	OpHello              = 8  // server: the heartbeat interval
	OpResumed            = 9  // server: resumed; missed messages follow
	OpClientsConnect     = 11 // server: users who joined the channel
	OpClientDisconnect   = 13 // server: a user who left
)

// Opcodes of DAVE, Discord's end-to-end layer: JSON messages (J) or
// binary frames (B), which the DAVE layer handles through an E2EE (the
// client) or a voicetest DAVE hook (the server). Binary frames from the
// server are "u16 seq | u8 op | payload", from the client "u8 op |
// payload" (see ParseServerBinary and AppendClientBinary).
const (
	OpDAVEPrepareTransition           = 21 // server, J: a transition (its id, the protocol version) is coming
	OpDAVEExecuteTransition           = 22 // server, J: execute the transition now
	OpDAVETransitionReady             = 23 // client, J: ready for the transition
	OpDAVEPrepareEpoch                = 24 // server, J: a new MLS group (epoch 1) is coming
	OpDAVEMLSExternalSender           = 25 // server, B: the MLS external sender's credential and key
	OpDAVEMLSKeyPackage               = 26 // client, B: the client's MLS key package
	OpDAVEMLSProposals                = 27 // server, B: proposals to add or remove members
	OpDAVEMLSCommitWelcome            = 28 // client, B: a commit, with a welcome for the members added
	OpDAVEMLSAnnounceCommitTransition = 29 // server, B: the winning commit and its transition
	OpDAVEMLSWelcome                  = 30 // server, B: a welcome for a member added
	OpDAVEMLSInvalidCommitWelcome     = 31 // client, J: the commit or welcome could not be processed
)

// IsDAVE reports whether op is one of DAVE's (21 to 31).
func IsDAVE(op int) bool { return op >= OpDAVEPrepareTransition && op <= OpDAVEMLSInvalidCommitWelcome }

// Speaking flags.
const (
	SpeakingMicrophone = 1 << 0
	SpeakingSoundshare = 1 << 1
	SpeakingPriority   = 1 << 2
)

// Encryption modes: the two Discord still offers, in order of preference
// (sink.ModeAES256GCM and sink.ModeXChaCha20Poly1305).
const (
	ModeAES256GCM         = "aead_aes256_gcm_rtpsize"
	ModeXChaCha20Poly1305 = "aead_xchacha20_poly1305_rtpsize"
)

// MaxMessage is the largest control message either side reads; Discord's
// are a few hundred bytes.
const MaxMessage = 8 << 10

// Message is one control message: {"op": N, "d": {...}, "seq": S}. Seq is
// the server's sequence number, on the messages kept for a resume (-1 when
// absent); clients acknowledge it as seq_ack.
type Message struct {
	Op  int
	D   json.RawMessage
	Seq int64
}

type wireMessage struct {
	Op  *int            `json:"op"`
	D   json.RawMessage `json:"d"`
	Seq *int64          `json:"seq,omitempty"`
	S   *int64          `json:"s,omitempty"` // what disgo reads and sends
}

// ParseMessage parses a control message. It accepts the sequence under
// either "seq" (Discord's) or "s" (disgo's), and a missing "d".
func ParseMessage(b []byte) (Message, error) {
	if len(b) > MaxMessage {
		return Message{}, fmt.Errorf("%w: %d bytes, more than %d", ErrBadMessage, len(b), MaxMessage)
	}
	var w wireMessage
	if err := json.Unmarshal(b, &w); err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if w.Op == nil {
		return Message{}, fmt.Errorf("%w: no op", ErrBadMessage)
	}
	m := Message{Op: *w.Op, D: w.D, Seq: -1}
	switch {
	case w.Seq != nil:
		m.Seq = *w.Seq
	case w.S != nil:
		m.Seq = *w.S
	}
	return m, nil
}

// Marshal returns the message's JSON, with "seq" when Seq is not negative.
func (m Message) Marshal() []byte {
	w := wireMessage{Op: &m.Op, D: m.D}
	if len(w.D) == 0 {
		w.D = json.RawMessage("null")
	}
	if m.Seq >= 0 {
		w.Seq = &m.Seq
	}
	b, err := json.Marshal(w)
	if err != nil { // only for a D that is not valid JSON: a programmer's error
		panic(fmt.Sprintf("voice: marshal op %d: %v", m.Op, err))
	}
	return b
}

// NewMessage returns the message for op with payload d (marshalled).
func NewMessage(op int, d any) Message {
	b, err := json.Marshal(d)
	if err != nil {
		panic(fmt.Sprintf("voice: marshal op %d payload: %v", op, err))
	}
	return Message{Op: op, D: b, Seq: -1}
}

// Decode unmarshals the message's payload into v, which must be a pointer
// to the payload type of its op.
func (m Message) Decode(v any) error {
	if len(m.D) == 0 || bytes.Equal(m.D, []byte("null")) {
		return fmt.Errorf("%w: op %d has no payload", ErrBadMessage, m.Op)
	}
	if err := json.Unmarshal(m.D, v); err != nil {
		return fmt.Errorf("%w: op %d: %v", ErrBadMessage, m.Op, err)
	}
	return nil
}

// Identify (op 0) begins a session.
type Identify struct {
	ServerID  string `json:"server_id"`
	UserID    string `json:"user_id"`
	SessionID string `json:"session_id"`
	Token     string `json:"token"`
	// MaxDAVEProtocolVersion is the highest DAVE version the client
	// speaks; 0 for none.
	MaxDAVEProtocolVersion int `json:"max_dave_protocol_version"`
}

// SelectProtocol (op 1) gives the client's UDP address, as IP discovery
// found it, and the encryption mode it chose from Ready's.
type SelectProtocol struct {
	Protocol string             `json:"protocol"` // "udp"
	Data     SelectProtocolData `json:"data"`
}

// SelectProtocolData is SelectProtocol's data.
type SelectProtocolData struct {
	Address string `json:"address"`
	Port    int    `json:"port"`
	Mode    string `json:"mode"`
}

// Ready (op 2) gives the session's SSRC, the server's UDP address and the
// encryption modes it offers.
type Ready struct {
	SSRC  uint32   `json:"ssrc"`
	IP    string   `json:"ip"`
	Port  int      `json:"port"`
	Modes []string `json:"modes"`
	// HeartbeatInterval is sent by Discord for old clients and is to be
	// ignored: Hello's is the one.
	HeartbeatInterval int `json:"heartbeat_interval,omitempty"`
}

// Heartbeat (op 3) is the client's keep-alive: a nonce the server echoes
// and, from version 8, the last sequence number it received (-1 before
// any). Before version 8 the payload is the nonce alone, which
// UnmarshalJSON accepts.
type Heartbeat struct {
	T      int64 `json:"t"`
	SeqAck int64 `json:"seq_ack"`
}

// UnmarshalJSON takes the object form or a bare nonce.
func (h *Heartbeat) UnmarshalJSON(b []byte) error {
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		*h = Heartbeat{T: n, SeqAck: -1}
		return nil
	}
	type plain Heartbeat
	p := plain{SeqAck: -1}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*h = Heartbeat(p)
	return nil
}

// HeartbeatACK (op 6) echoes a heartbeat's nonce.
type HeartbeatACK struct {
	T int64 `json:"t"`
}

// UnmarshalJSON takes the object form or a bare nonce (before version 8).
func (h *HeartbeatACK) UnmarshalJSON(b []byte) error {
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		h.T = n
		return nil
	}
	type plain HeartbeatACK
	return json.Unmarshal(b, (*plain)(h))
}

// SecretKey is the session's 32-byte key, sent as a JSON array of 32
// numbers (not base64).
type SecretKey [32]byte

// MarshalJSON writes the key as an array of numbers.
func (k SecretKey) MarshalJSON() ([]byte, error) {
	n := make([]int, len(k))
	for i, b := range k {
		n[i] = int(b)
	}
	return json.Marshal(n)
}

// UnmarshalJSON takes exactly 32 numbers from 0 to 255.
func (k *SecretKey) UnmarshalJSON(b []byte) error {
	var n []int
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("secret_key: %w", err)
	}
	if len(n) != len(k) {
		return fmt.Errorf("secret_key has %d numbers, want %d", len(n), len(k))
	}
	for i, v := range n {
		if v < 0 || v > 255 {
			return fmt.Errorf("secret_key[%d] = %d, not a byte", i, v)
		}
		k[i] = byte(v)
	}
	return nil
}

// SessionDescription (op 4) gives the mode and the key for the UDP
// packets. DAVEProtocolVersion 0 means no end-to-end encryption.
type SessionDescription struct {
	Mode                string    `json:"mode"`
	SecretKey           SecretKey `json:"secret_key"`
	DAVEProtocolVersion int       `json:"dave_protocol_version"`
}

// Speaking (op 5) says that a user is speaking (the flags) on an SSRC; a
// client sends it before its first audio packet. The server adds UserID
// when it relays one.
type Speaking struct {
	Speaking int    `json:"speaking"`
	Delay    int    `json:"delay"`
	SSRC     uint32 `json:"ssrc"`
	UserID   string `json:"user_id,omitempty"`
}

// Resume (op 7) resumes a session on a new connection; the server
// replays the messages after SeqAck.
type Resume struct {
	ServerID  string `json:"server_id"`
	SessionID string `json:"session_id"`
	Token     string `json:"token"`
	SeqAck    int64  `json:"seq_ack"`
}

// UnmarshalJSON also takes the acknowledgement as "seq" (disgo), and
// defaults it to -1.
func (r *Resume) UnmarshalJSON(b []byte) error {
	type plain Resume
	var p struct {
		plain
		Seq *int64 `json:"seq"`
		Ack *int64 `json:"seq_ack"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*r = Resume(p.plain)
	switch {
	case p.Ack != nil:
		r.SeqAck = *p.Ack
	case p.Seq != nil:
		r.SeqAck = *p.Seq
	default:
		r.SeqAck = -1
	}
	return nil
}

// Hello (op 8) opens every connection with the heartbeat interval, in
// milliseconds (Discord sends a fraction, such as 13750.0).
type Hello struct {
	HeartbeatInterval float64 `json:"heartbeat_interval"`
}

// ClientsConnect (op 11) names users who joined the channel.
type ClientsConnect struct {
	UserIDs []string `json:"user_ids"`
}

// ClientDisconnect (op 13) names a user who left.
type ClientDisconnect struct {
	UserID string `json:"user_id"`
}
