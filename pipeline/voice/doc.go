// Package voice is a bot's voice connection to Discord: the control
// WebSocket of gateway version 8, IP discovery, and Opus over UDP in
// the two rtpsize AEAD modes Discord still offers (through
// pipeline/sink's Cipher), with hooks for DAVE, Discord's end-to-end
// layer (package pipeline/voice/dave). Package voicetest is a
// Discord-like server for tests.
//
// # Joining
//
// A Conn is fed by whichever library runs the bot's main gateway: after
// the bot asks to join a channel (a Voice State Update, op 4, on the
// main gateway), Discord sends it VOICE_STATE_UPDATE (its session ID)
// and VOICE_SERVER_UPDATE (the voice server's endpoint and a token).
// Connect takes the two as a StateUpdate and a ServerUpdate; a later
// VOICE_SERVER_UPDATE for the guild (a region move) goes to
// Conn.UpdateServer, which moves the connection without losing the
// player's place. The wiring for three Go libraries (Example_disgo and
// Example_discordgo show the first two, compiled):
//
//	// disgo (github.com/disgoorg/disgo): events.GuildVoiceStateUpdate
//	// and events.VoiceServerUpdate, for the bot's own user.
//	voice.ServerUpdate{Endpoint: *e.Endpoint, Token: e.Token, GuildID: e.GuildID.String()}
//	voice.StateUpdate{UserID: vs.UserID.String(), SessionID: vs.SessionID, ChannelID: vs.ChannelID.String()}
//
//	// discordgo (github.com/bwmarrin/discordgo): handlers of
//	// *discordgo.VoiceStateUpdate and *discordgo.VoiceServerUpdate,
//	// after s.ChannelVoiceJoinManual(guildID, channelID, false, false)
//	// (discordgo's own voice connection is not used).
//	s.AddHandler(func(s *discordgo.Session, e *discordgo.VoiceServerUpdate) {
//		servers <- voice.ServerUpdate{Endpoint: e.Endpoint, Token: e.Token, GuildID: e.GuildID}
//	})
//	s.AddHandler(func(s *discordgo.Session, e *discordgo.VoiceStateUpdate) {
//		if e.UserID == s.State.User.ID {
//			states <- voice.StateUpdate{UserID: e.UserID, SessionID: e.SessionID, ChannelID: e.ChannelID}
//		}
//	})
//
//	// arikawa v3 (github.com/diamondburned/arikawa/v3): the gateway's
//	// events, after st.Gateway().Send(ctx, &gateway.UpdateVoiceStateCommand{...}).
//	st.AddHandler(func(e *gateway.VoiceServerUpdateEvent) {
//		servers <- voice.ServerUpdate{Endpoint: e.Endpoint, Token: e.Token, GuildID: e.GuildID.String()}
//	})
//	st.AddHandler(func(e *gateway.VoiceStateUpdateEvent) {
//		if e.UserID == me.ID {
//			states <- voice.StateUpdate{UserID: e.UserID.String(), SessionID: e.SessionID, ChannelID: e.ChannelID.String()}
//		}
//	})
//
//	conn, err := voice.Connect(ctx, <-servers, <-states)
//	for su := range servers { // later ones: region moves
//		err = conn.UpdateServer(ctx, su)
//	}
//
// (The arikawa lines are not compiled: the module proxy this module is
// built from does not serve arikawa.) An endpoint of null in
// VOICE_SERVER_UPDATE means the voice server is being reallocated: wait
// for the next one.
//
// # The protocol
//
// The control channel carries JSON messages {"op": N, "d": {...}}; the
// server's carry "seq", which the client acknowledges in its heartbeats
// (seq_ack) and in Resume, after which the server replays what the
// client missed. DAVE's MLS messages travel in binary frames, whose
// sequence numbers count too. A session goes:
//
//	client                                 server
//	  ──── WebSocket ?v=8 ────────────────▶
//	  ◀──────────────────── 8 Hello {heartbeat_interval}
//	  0 Identify {server_id, user_id, session_id, token, max_dave_protocol_version} ─▶
//	  ◀──────────────── 2 Ready {ssrc, ip, port, modes}
//	  ──── UDP: IP discovery request (74 bytes) ─▶
//	  ◀──── UDP: response with the client's address
//	  1 Select Protocol {udp, address, port, mode} ─▶
//	  ◀──── 4 Session Description {mode, secret_key: [32 numbers], dave_protocol_version}
//	  5 Speaking {speaking, ssrc} ─▶
//	  ──── UDP: RTP, sealed in the mode chosen ─▶
//	  3 Heartbeat {t, seq_ack} ─▶  ◀─ 6 Heartbeat ACK {t}
//
// What a Conn does after each close code is in the table above the
// Close constants: it resumes after a drop (7 Resume, 9 Resumed),
// identifies anew by itself after 4006 or 4009 (the same session ID, a
// new SSRC and key, the RTP timeline continued), and ends with a
// *CloseError naming the code after a final one (4004, 4014, 4022...).
// Attempts back off from 50 ms to 5 s, for up to WithReconnectFor.
//
// # Sending and receiving
//
// A Conn is one Scheduler listener: sched.Add(player, conn.Send). Send
// numbers each packet (sink.Packetizer: the timestamp follows the
// packet's, with the gaps of pauses), seals it and writes it to the UDP
// socket, in the caller's goroutine and without blocking; the Conn
// sends Speaking before the first audio and after the five silence
// frames a Player gives before going quiet. Packets that cannot go yet
// wait in a bounded queue (WithQueue).
//
// With WithReceive, a Conn reads the others' audio: decrypted per SSRC,
// end-to-end decrypted by a FrameDecryptor (DAVE's), delivered with the
// sender's user ID (from the server's Speaking and Client Disconnect
// messages) on a bounded channel that never holds up the reader.
//
// # DAVE
//
// Discord requires DAVE on voice channels since 2026-03-01 (a client
// without it is closed with 4017). A Conn has its own DAVE layer, on by
// default (Conn.DAVE; WithDAVE(false) turns it off for servers of
// transport encryption alone): it announces version 1 in Identify, takes
// part in the channel's MLS group through ops 21 to 31 (package
// pipeline/voice/dave), encrypts what Send sends under its key of the
// epoch once a transition has executed (before that, frames are not
// sent: never in the clear), and decrypts each user's frames on the
// receive path. The group is the channel's (StateUpdate.ChannelID); users
// and channels are named by Snowflake. Another layer can take its place:
// an E2EE (WithE2EE) is handed DAVE's JSON messages (ops 21, 22, 24) and
// binary frames (25 to 30) and answers with SendMessage and SendBinary;
// frames are then encrypted by a sink.FrameEncryptor (WithSenderOptions)
// and decrypted by a FrameDecryptor (WithFrameDecryptor).
package voice
