// Package interop holds the interoperability tests of packages voice and
// voicetest against discord.js's voice client (npm @discordjs/voice
// 0.19.2, with davey, @snazzah/davey, for DAVE, and @noble/ciphers for
// XChaCha20-Poly1305): discord.js clients join a voicetest channel beside
// a Go voice.Conn, and every frame any of them sends must reach the
// server and the others byte for byte, in order, with its sender's user
// ID.
//
// Each discord.js client is a node process running client.js, driven
// over standard input and output with JSON lines; its adapter plays the
// main gateway, answering the Voice State Update with the events that
// voicetest.Server's Updates gives. discord.js dials only wss://, so the
// tests serve the voicetest server's handler on a TLS listener too, with
// a certificate for 127.0.0.1 from a CA made by the test and given to
// node by NODE_EXTRA_CA_CERTS.
//
// The tests install discord.js themselves: their TestMain runs `npm ci`
// in this folder (package.json and package-lock.json pin the versions)
// when node_modules is missing, through internal/nodetest. A machine
// needs node and npm with access to the npm registry; without node the
// tests fail saying how to install it, unless STREAMCATCHER_NO_NODE=1 is
// set, which skips them (loudly; CI must not set it). Node 20 runs
// discord.js 0.19.2, although the package asks for 22.12.
//
// client.js corrects two faults of discord.js 0.19.2 that are not the
// Go side's and would fail a test now and then: it waits for discord.js's
// XChaCha20-Poly1305 library, which discord.js loads with a dynamic
// import after it is required, before it joins; and its receivers keep
// whole the frames of packets without a header extension whose
// ciphertext starts with BE DE, which discord.js's parser takes for an
// extension and strips (TestDiscordJSHeaderExtensionMisread). Its debug
// lines, which a failing test shows, carry the time of day and davey's
// refusals of frames, with their DAVE nonces.
//
// The package has no code besides its tests.
package interop
