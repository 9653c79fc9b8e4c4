// Package voice is a voice server and client in the style of Discord's
// voice connections: the control WebSocket of gateway version 8 and
// encrypted RTP over UDP. A client written against Discord's published
// documentation works with the Server; the Client (Connect) is what the
// example's bots use.
//
// The control channel carries JSON messages {"op": N, "d": {...}}; the
// server's carry "seq", which the client acknowledges in its heartbeats
// (seq_ack) and in Resume, after which the server replays what the client
// missed. A session goes:
//
//	client                                 server
//	  ──── WebSocket ?v=8 ────────────────▶
//	  ◀──────────────────── 8 Hello {heartbeat_interval}
//	  0 Identify {server_id, user_id, session_id, token} ─▶
//	  ◀──────────────── 2 Ready {ssrc, ip, port, modes}
//	  ──── UDP: IP discovery request (74 bytes) ─▶
//	  ◀──── UDP: response with the client's address
//	  1 Select Protocol {udp, address, port, mode} ─▶
//	  ◀──── 4 Session Description {mode, secret_key: [32 numbers], dave_protocol_version: 0}
//	  5 Speaking {speaking, ssrc} ─▶
//	  ──── UDP: RTP, sealed in the mode chosen ─▶
//	  3 Heartbeat {t, seq_ack} ─▶  ◀─ 6 Heartbeat ACK {t}
//
// A dropped control connection is resumed (7 Resume, 9 Resumed); a
// client whose resume fails may identify anew with the same session ID,
// which replaces the session waiting for the resume at once (a session
// still on a live connection keeps its ID: 4006). A dropped UDP socket is
// reopened with a new discovery and Select Protocol, keeping the key and
// counters; the server keeps each mode's replay window for the session's
// life, so a datagram is heard once whatever modes are selected after it.
// discord.js's 8-byte UDP keep-alives are counted, not answered. The server closes with the
// gateway's codes (CloseError): 4001 unknown opcode, 4002 decode error,
// 4003 not authenticated, 4004 authentication failed, 4005 already
// authenticated, 4006 session no longer valid, 4009 session timeout, 4011
// server not found, 4012 unknown protocol, 4014 disconnected, 4016
// unknown encryption mode, 4017 DAVE required, 4020 bad request (a
// gateway version below 4), 4021 rate limited, 4022 call terminated.
//
// The two encryption modes Discord still offers are supported,
// aead_aes256_gcm_rtpsize and aead_xchacha20_poly1305_rtpsize (through
// pipeline/sink's Cipher); the xsalsa20 modes are refused with 4016. DAVE,
// Discord's end-to-end layer, is not implemented: the server answers
// dave_protocol_version 0, and WithRequireDAVE shows the 4017 refusal a
// client without it meets on Discord today.
package voice
