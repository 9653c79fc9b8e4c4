// Package sink sends a player's Opus packets to where listeners are: RTP
// over UDP, RTP encrypted the way Discord's voice transport does it, an
// HTTP Ogg Opus live stream, Ogg Opus and DCA files, and adapters for the
// Go voice libraries. WebRTC peers are served by its subpackage
// webrtcsink, apart, so that only the programs that use WebRTC link pion's
// stack.
//
// A sink is the listener a pipeline.Scheduler calls with each packet: a
// Sender's Send for one listener's Player, or for one Broadcast
// (b.JoinPaced(s.Send)). HTTPStream serves a Broadcast's buffered
// listeners (b.JoinBuffered), which read at their own pace.
//
// The cache holds plain Opus packets, shared by every listener. Every
// transport's ciphertext is unique to its connection, so a sink encrypts
// per connection, per packet, after the cache. The package has no cgo: it
// takes opus.Packet values, which a pipeline.Player gives through Next and
// a pipeline.Broadcast through JoinPaced.
//
// A Sender can add a header extension to every packet (WithExtension:
// audio levels, or a label of its own), sealed with the frame in the
// rtpsize modes; a Receiver's OpenPacket returns it beside the frame.
//
// Discord's end-to-end layer (DAVE) is out of scope; a FrameEncryptor
// hook, shaped like disgo's DAVE session, lets one be plugged in before
// transport encryption.
//
// Adapters take a Source (a Player) to the Go voice libraries' inputs
// without importing them: FrameProvider for disgo, Copy to an io.Writer
// for arikawa, Feed to a channel for discordgo. Of these, only disgo
// reaches Discord today, from v0.19: it speaks the rtpsize modes and DAVE
// (through godave), which voice channels require since 2026-03-01; v0.18
// speaks gateway version 4 and xsalsa20 only, and is refused. arikawa v3 and
// discordgo's release ask for the xsalsa20 modes, which Discord refuses;
// discordgo's master has moved to AES-GCM rtpsize but has no DAVE.
package sink
