// Package interop holds the interoperability tests of package dave
// against davey (npm @snazzah/davey, Rust over OpenMLS), an independent
// DAVE implementation: Go sessions and davey sessions form groups through
// the Go ExternalSender and must agree on every epoch, authenticator,
// privacy code and sender key.
//
// davey runs in node, driven by peer.js over standard input and output.
// The tests install it themselves: their TestMain runs `npm ci` in this
// folder (package.json and package-lock.json pin davey 0.1.12) when
// node_modules is missing, under a lock so that concurrent test binaries
// install it once. A machine needs node and npm with access to the npm
// registry; without node the tests fail saying how to install it, unless
// STREAMCATCHER_NO_NODE=1 is set, which skips them (loudly; CI must not
// set it).
//
// The package has no code besides its tests.
package interop
