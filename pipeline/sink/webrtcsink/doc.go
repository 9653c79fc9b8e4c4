// Package webrtcsink sends a player's Opus packets to WebRTC peers
// (browsers, pion peers), all of them on one UDP port: a Server answers
// each peer's offer, a Peer's Send is the listener of one peer's own
// pipeline.Player, and a Fanout's Send is the listener of one
// pipeline.Broadcast heard by many peers (b.JoinPaced(f.Send)).
//
// It is a package of its own, apart from package sink, because WebRTC
// brings pion's ICE, DTLS, SCTP and SRTP with it: a program that sends
// RTP, Discord's transport, HTTP or files through package sink, or feeds
// a voice library through its adapters, links none of them. Its name is
// not webrtc, so that it sits beside pion's webrtc package, whose
// SessionDescription its callers hand on, without renaming either.
//
// A peer hears the stream from the live point: the packets sent after it
// has connected, none queued while its connection came up, so that its
// jitter buffer starts with no backlog to play fast through.
//
// Packets are numbered by package sink's Packetizer and carry its
// timestamps. The package has no cgo.
package webrtcsink
