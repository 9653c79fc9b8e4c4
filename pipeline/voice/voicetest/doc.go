// Package voicetest is a Discord-like voice server for tests and
// examples, in the role net/http/httptest plays for HTTP: NewServer
// starts one on loopback (its gateway at Endpoint, its UDP socket at
// UDPAddr), Updates gives the two events Discord's main gateway would
// give a bot joining one of its channels, and Close stops it and waits
// for its goroutines.
//
// It speaks gateway version 8 as Discord documents it (see package
// voice): Hello, Identify, Ready, IP discovery, Select Protocol, Session
// Description, heartbeats with seq_ack, Resume with a replay of what the
// client missed (a backlog of 256 messages), Speaking, Clients Connect
// and Client Disconnect. Each session's audio is authenticated and
// decrypted in either rtpsize mode, with a replay window per mode kept
// for the session's life; it is handed to the packet handler
// (WithPacketHandler) and relayed, sealed under each one's key, to the
// others in the channel. discord.js's 8-byte UDP keep-alives are
// counted, not answered. A client whose resume fails may identify anew
// with the same session ID, which replaces the session waiting for the
// resume at once (a session still on a live connection keeps its ID:
// 4006).
//
// It closes with the gateway's codes: 4001 unknown opcode, 4002 decode
// error, 4003 not authenticated, 4004 authentication failed
// (WithAuthenticate), 4005 already authenticated, 4006 session no
// longer valid, 4009 session timeout, 4011 server not found, 4012
// unknown protocol, 4014 disconnected (Disconnect), 4016 unknown
// encryption mode (the xsalsa20 modes, as Discord since 2024-11-18),
// 4017 DAVE required (WithRequireDAVE), 4020 bad request (a gateway
// version below 4), 4021 rate limited, 4022 call terminated (Close);
// Kick closes a session with any code.
//
// DAVE: a client that announces it (max_dave_protocol_version 1) is
// described with dave_protocol_version 1 and handed to the DAVE layer,
// which plays Discord's part (the MLS external sender, proposals,
// commits, welcomes, transitions) through Session.Send and
// Session.SendBinary; the client's DAVE messages and binary frames go to
// it. DAVEServer is voicetest's own (WithDAVEServer; WithRequireDAVE
// installs it by default); WithDAVE takes another. Without one, such a
// client is described with version 0. Audio is relayed as its sender
// sealed it inside: DAVE frames stay end-to-end encrypted, and only the
// channel's members, not the server, can read them.
package voicetest
