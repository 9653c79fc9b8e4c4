// Package dave implements Discord's DAVE protocol (version 1): the
// end-to-end encryption of voice, over an MLS group (RFC 9420, cipher
// suite 2: P-256, AES-128-GCM, SHA-256) whose membership the voice
// gateway drives as an external sender. It is pure Go, on the MLS subset
// of its internal package mls.
//
// # Client: Session
//
// A Session is one participant's MLS state. The voice client feeds it the
// binary payloads of the gateway's DAVE opcodes (the bytes after the
// sequence number and opcode) and sends what it returns:
//
//	op  dir  payload                                   Session
//	25  S→C  external sender                           SetExternalSender
//	26  C→S  bare KeyPackage                           KeyPackage
//	27  S→C  u8 op (0 append, 1 revoke) + vector       ProcessProposals → op 28
//	28  C→S  commit MLSMessage ‖ bare Welcome          (returned by ProcessProposals)
//	29  S→C  u16 transition id ‖ commit MLSMessage     ProcessCommit
//	30  S→C  u16 transition id ‖ bare Welcome          ProcessWelcome
//	31  C→S  JSON transition id                        (after an error:) Reset, then op 26
//
// Ops 11 and 13 maintain the users an Add or a Welcome may name
// (RecognizeUsers, ForgetUser); op 24 with epoch 1 (a new group, or the
// sole member's reset) calls Reset and sends a new key package.
//
// A session is pending until its own commit is announced or a Welcome
// brings it in; it is then established, and gives the epoch
// (Epoch), the members (UserIDs), the epoch authenticator and its
// 30-digit voice privacy code (PrivacyCode, DisplayableCode), and each
// member's 16-byte media base secret (SenderSecret:
// MLS-Exporter("Discord Secure Frames v0", user id as 8 bytes little
// endian, 16)), which seeds that sender's key ratchet (KeyRatchet, for
// the Encryptor and Decryptor).
//
// DAVE's profile is enforced: proposals are external Adds and Removes of
// the current epoch from external sender 0; commits reference them, never
// carry them by value, and carry a path only when they remove someone;
// Welcomes carry the ratchet tree inline, the group's external sender
// must be op 25's and no user may be in the group twice. Every refusal is
// an error wrapping one of the sentinels of errors.go, naming the epoch
// and the reason.
//
// # Server: ExternalSender
//
// ExternalSender is the gateway's MLS part, for the voicetest server: its
// P-256 key (op 25), external Adds for the key packages it receives and
// Removes or revokes for departures (op 27), the first valid commit of
// each epoch (op 28 in; op 29 to the members, op 30 to each joiner with
// only that joiner's secrets out), as a list of Deliveries per user.
//
// # Checked against
//
// The group state machine plays the MLS working group's passive-client
// vectors; Discord's captured gateway payloads are processed; groups of
// Go sessions go through creation, joins, leaves, commit races, recovery
// and the sole member's reset; and the tests of package interop form
// groups of Go sessions and davey sessions (davey: Rust over OpenMLS, run
// in node) that agree on every epoch authenticator and read each other's
// media frames.
package dave
