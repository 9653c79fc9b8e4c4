package interop_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/nodetest"
)

// TestDiscordJSHeaderExtensionMisread checks client.js's correction of
// discord.js 0.19.2's receiver, which strips a header extension from
// every packet whose bytes 12-13 are BE DE, the X bit set or not. In a
// packet without an extension those are the first two bytes of the
// ciphertext, so 1 in 65,536 of the packets the voicetest server relays
// from discord.js and the Go client (which send none) lost its frame,
// with davey's "Failed to decrypt a packet" at the receiving discord.js
// client: the signature of the one frame TestDiscordJSCommitRace lost in
// a CI run. client.js seals such a packet and parses it as its receivers
// do: the frame must come out whole.
func TestDiscordJSHeaderExtensionMisread(t *testing.T) {
	nodetest.Need(t, nodeErr)
	d := &djs{t: t, user: "misread", proc: nodetest.Start(t, "client.js"), packets: map[string][]event{}, ssrcs: map[string]uint32{}}
	d.proc.Send(map[string]any{"cmd": "misread"})
	e := d.await("the misread frame", func(e event) bool { return e.Event == "misread" })
	require.NotEmpty(t, e.Frame)
	assert.Equal(t, e.Frame, e.Parsed, "the frame of a packet without a header extension whose ciphertext starts with BE DE")
}
