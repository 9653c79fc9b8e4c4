package voicetest_test

import (
	"context"
	"encoding/json"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	disgovoice "github.com/disgoorg/disgo/voice"
	"github.com/disgoorg/snowflake/v2"
	"github.com/streamcatcher/streamcatcher/pipeline/voice"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDisgoWire talks to the server in disgo's own messages and with
// disgo's own IP discovery (the release this module can fetch, v0.18,
// which speaks gateway version 4): its message types marshal what the
// server understands and parse what it sends, the key of a Session
// Description included ([32]byte), and its discovery works against ours.
// Asked for xsalsa20, disgo v0.18's only mode, the server closes with
// 4016, as Discord now does: that disgo cannot reach Discord. (disgo's
// gateway goroutines are not used: they race with themselves.)
func TestDisgoWire(t *testing.T) {
	srv, url := newServer(t)
	for i, tc := range []struct {
		mode disgovoice.EncryptionMode
		code int // the close expected; 0: a session description
	}{
		{voice.ModeAES256GCM, 0},
		{disgovoice.EncryptionModeNormal, voice.CloseUnknownEncryptionMode},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ws, _, err := websocket.Dial(ctx, url+"?v=4", nil)
			require.NoError(t, err)
			defer ws.CloseNow()
			recv := func() disgovoice.GatewayMessage {
				t.Helper()
				_, b, err := ws.Read(ctx)
				require.NoError(t, err)
				var m disgovoice.GatewayMessage
				require.NoError(t, json.Unmarshal(b, &m), "disgo parses %s", b)
				return m
			}
			sendMsg := func(op disgovoice.Opcode, d disgovoice.GatewayMessageData) {
				t.Helper()
				b, err := json.Marshal(disgovoice.GatewayMessage{Op: op, D: d})
				require.NoError(t, err)
				require.NoError(t, ws.Write(ctx, websocket.MessageText, b))
			}

			hello, ok := recv().D.(disgovoice.GatewayMessageDataHello)
			require.True(t, ok)
			assert.Positive(t, hello.HeartbeatInterval)
			sendMsg(disgovoice.OpcodeIdentify, disgovoice.GatewayMessageDataIdentify{GuildID: snowflake.ID(i + 1), UserID: 2, SessionID: "disgo-" + string(tc.mode), Token: "t"})
			r, ok := recv().D.(disgovoice.GatewayMessageDataReady)
			require.True(t, ok)
			assert.Equal(t, srv.UDPAddr().Port(), uint16(r.Port))
			assert.Contains(t, r.Modes, voice.ModeXChaCha20Poly1305)

			sendMsg(disgovoice.OpcodeHeartbeat, disgovoice.GatewayMessageDataHeartbeat(1501184119561))
			m := recv()
			ack, ok := m.D.(disgovoice.GatewayMessageDataHeartbeatACK)
			require.True(t, ok, "op %d: %#v", m.Op, m.D)
			assert.Equal(t, disgovoice.GatewayMessageDataHeartbeatACK(1501184119561), ack, "v4: the bare nonce")

			// disgo's IP discovery against ours.
			u := disgovoice.NewUDPConn()
			addr, port, err := u.Open(ctx, r.IP, r.Port, r.SSRC)
			require.NoError(t, err)
			defer u.Close()
			// It keeps the field's NULs (it trims spaces); the server
			// takes the address so.
			assert.Equal(t, "127.0.0.1", strings.TrimRight(addr, "\x00"))
			assert.Equal(t, u.LocalAddr().(*net.UDPAddr).Port, port)

			sendMsg(disgovoice.OpcodeSelectProtocol, disgovoice.GatewayMessageDataSelectProtocol{
				Protocol: disgovoice.ProtocolUDP,
				Data:     disgovoice.GatewayMessageDataSelectProtocolData{Address: addr, Port: port, Mode: tc.mode},
			})
			if tc.code != 0 {
				assert.Equal(t, tc.code, closedWith(t, ws))
				return
			}
			sd, ok := recv().D.(disgovoice.GatewayMessageDataSessionDescription)
			require.True(t, ok)
			assert.Equal(t, voice.ModeAES256GCM, sd.Mode)
			assert.NotEqual(t, [32]byte{}, sd.SecretKey)
		})
	}
}
