package voice_test

import (
	"encoding/binary"
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/streamcatcher/streamcatcher/pipeline/voice"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The messages as Discord's voice documentation shows them (gateway v8).
func TestParseDocumentedMessages(t *testing.T) {
	t.Run("identify", func(t *testing.T) {
		m := parse(t, `{"op":0,"d":{"server_id":"41771983423143937","user_id":"104694319306248192","session_id":"my_session_id","token":"my_token","max_dave_protocol_version":1}}`)
		var id voice.Identify
		require.NoError(t, m.Decode(&id))
		assert.Equal(t, voice.Identify{ServerID: "41771983423143937", UserID: "104694319306248192", SessionID: "my_session_id", Token: "my_token", MaxDAVEProtocolVersion: 1}, id)
		assert.Equal(t, int64(-1), m.Seq)
	})
	t.Run("ready", func(t *testing.T) {
		m := parse(t, `{"op":2,"d":{"ssrc":1,"ip":"127.0.0.1","port":1234,"modes":["aead_aes256_gcm_rtpsize","aead_xchacha20_poly1305_rtpsize"],"heartbeat_interval":1},"seq":1}`)
		var r voice.Ready
		require.NoError(t, m.Decode(&r))
		assert.Equal(t, voice.Ready{SSRC: 1, IP: "127.0.0.1", Port: 1234, Modes: []string{voice.ModeAES256GCM, voice.ModeXChaCha20Poly1305}, HeartbeatInterval: 1}, r)
		assert.Equal(t, int64(1), m.Seq)
	})
	t.Run("hello", func(t *testing.T) {
		var h voice.Hello
		require.NoError(t, parse(t, `{"op":8,"d":{"heartbeat_interval":41250.0}}`).Decode(&h))
		assert.Equal(t, 41250.0, h.HeartbeatInterval)
	})
	t.Run("heartbeat v8", func(t *testing.T) {
		var h voice.Heartbeat
		require.NoError(t, parse(t, `{"op":3,"d":{"t":1501184119561,"seq_ack":10}}`).Decode(&h))
		assert.Equal(t, voice.Heartbeat{T: 1501184119561, SeqAck: 10}, h)
	})
	t.Run("heartbeat before v8", func(t *testing.T) {
		var h voice.Heartbeat
		require.NoError(t, parse(t, `{"op":3,"d":1501184119561}`).Decode(&h))
		assert.Equal(t, voice.Heartbeat{T: 1501184119561, SeqAck: -1}, h)
	})
	t.Run("heartbeat ack", func(t *testing.T) {
		var a voice.HeartbeatACK
		require.NoError(t, parse(t, `{"op":6,"d":{"t":1501184119561}}`).Decode(&a))
		assert.Equal(t, int64(1501184119561), a.T)
		require.NoError(t, parse(t, `{"op":6,"d":1501184119562}`).Decode(&a))
		assert.Equal(t, int64(1501184119562), a.T)
	})
	t.Run("select protocol", func(t *testing.T) {
		var sp voice.SelectProtocol
		require.NoError(t, parse(t, `{"op":1,"d":{"protocol":"udp","data":{"address":"127.0.0.1","port":1337,"mode":"aead_aes256_gcm_rtpsize"}}}`).Decode(&sp))
		assert.Equal(t, voice.SelectProtocol{Protocol: "udp", Data: voice.SelectProtocolData{Address: "127.0.0.1", Port: 1337, Mode: voice.ModeAES256GCM}}, sp)
	})
	t.Run("session description", func(t *testing.T) {
		var sd voice.SessionDescription
		require.NoError(t, parse(t, `{"op":4,"d":{"mode":"aead_xchacha20_poly1305_rtpsize","secret_key":[251,100,11,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,255],"dave_protocol_version":0},"seq":2}`).Decode(&sd))
		assert.Equal(t, voice.ModeXChaCha20Poly1305, sd.Mode)
		assert.Equal(t, byte(251), sd.SecretKey[0])
		assert.Equal(t, byte(255), sd.SecretKey[31])
	})
	t.Run("speaking", func(t *testing.T) {
		var sp voice.Speaking
		require.NoError(t, parse(t, `{"op":5,"d":{"speaking":5,"delay":0,"ssrc":1}}`).Decode(&sp))
		assert.Equal(t, voice.Speaking{Speaking: voice.SpeakingMicrophone | voice.SpeakingPriority, SSRC: 1}, sp)
	})
	t.Run("resume", func(t *testing.T) {
		var r voice.Resume
		require.NoError(t, parse(t, `{"op":7,"d":{"server_id":"41771983423143937","session_id":"my_session_id","token":"my_token","seq_ack":10}}`).Decode(&r))
		assert.Equal(t, voice.Resume{ServerID: "41771983423143937", SessionID: "my_session_id", Token: "my_token", SeqAck: 10}, r)
	})
	t.Run("resume as disgo sends it", func(t *testing.T) {
		var r voice.Resume
		require.NoError(t, parse(t, `{"op":7,"d":{"server_id":"1","session_id":"s","token":"t","seq":7}}`).Decode(&r))
		assert.Equal(t, int64(7), r.SeqAck)
		require.NoError(t, parse(t, `{"op":7,"d":{"server_id":"1","session_id":"s","token":"t"}}`).Decode(&r))
		assert.Equal(t, int64(-1), r.SeqAck)
	})
	t.Run("sequence as disgo reads it", func(t *testing.T) {
		assert.Equal(t, int64(4), parse(t, `{"op":11,"d":{"user_ids":["1"]},"s":4}`).Seq)
	})
	t.Run("clients", func(t *testing.T) {
		var cc voice.ClientsConnect
		require.NoError(t, parse(t, `{"op":11,"d":{"user_ids":["1","2"]},"seq":3}`).Decode(&cc))
		assert.Equal(t, []string{"1", "2"}, cc.UserIDs)
		var cd voice.ClientDisconnect
		require.NoError(t, parse(t, `{"op":13,"d":{"user_id":"2"},"seq":4}`).Decode(&cd))
		assert.Equal(t, "2", cd.UserID)
	})
	t.Run("resumed", func(t *testing.T) {
		m := parse(t, `{"op":9,"d":null}`)
		assert.Equal(t, voice.OpResumed, m.Op)
	})
}

func parse(t *testing.T, s string) voice.Message {
	t.Helper()
	m, err := voice.ParseMessage([]byte(s))
	require.NoError(t, err)
	return m
}

func TestMarshalMessages(t *testing.T) {
	var key voice.SecretKey
	for i := range key {
		key[i] = byte(i * 8)
	}
	m := voice.NewMessage(voice.OpSessionDescription, voice.SessionDescription{Mode: voice.ModeAES256GCM, SecretKey: key})
	m.Seq = 2
	assert.JSONEq(t, `{"op":4,"d":{"mode":"aead_aes256_gcm_rtpsize","secret_key":[0,8,16,24,32,40,48,56,64,72,80,88,96,104,112,120,128,136,144,152,160,168,176,184,192,200,208,216,224,232,240,248],"dave_protocol_version":0},"seq":2}`, string(m.Marshal()))

	hb := voice.NewMessage(voice.OpHeartbeat, voice.Heartbeat{T: 1501184119561, SeqAck: -1})
	assert.JSONEq(t, `{"op":3,"d":{"t":1501184119561,"seq_ack":-1}}`, string(hb.Marshal()))
	assert.JSONEq(t, `{"op":9,"d":null}`, string(voice.NewMessage(voice.OpResumed, nil).Marshal()))
}

func TestBadMessages(t *testing.T) {
	for name, s := range map[string]string{
		"not json": `{"op":`,
		"no op":    `{"d":{}}`,
		"op text":  `{"op":"0"}`,
		"array":    `[1,2]`,
		"too big":  `{"op":0,"d":"` + string(make([]byte, voice.MaxMessage)) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := voice.ParseMessage([]byte(s))
			assert.ErrorIs(t, err, voice.ErrBadMessage)
		})
	}
	t.Run("payload that does not fit", func(t *testing.T) {
		var id voice.Identify
		assert.ErrorIs(t, parse(t, `{"op":0,"d":[1]}`).Decode(&id), voice.ErrBadMessage)
		assert.ErrorIs(t, parse(t, `{"op":0}`).Decode(&id), voice.ErrBadMessage)
	})
	t.Run("secret keys", func(t *testing.T) {
		var k voice.SecretKey
		assert.ErrorContains(t, json.Unmarshal([]byte(`[1,2,3]`), &k), "3 numbers, want 32")
		long := make([]int, 33)
		b, _ := json.Marshal(long)
		assert.ErrorContains(t, json.Unmarshal(b, &k), "33 numbers")
		bad := make([]int, 32)
		bad[5] = 256
		b, _ = json.Marshal(bad)
		assert.ErrorContains(t, json.Unmarshal(b, &k), "secret_key[5] = 256")
		assert.Error(t, json.Unmarshal([]byte(`"AAAA"`), &k), "base64 is not Discord's form")
	})
}

func TestCloseError(t *testing.T) {
	e := &voice.CloseError{Code: voice.CloseE2EERequired, Reason: "this channel requires the DAVE protocol"}
	assert.Equal(t, "voice: E2EE/DAVE protocol required (4017): this channel requires the DAVE protocol", e.Error())
	assert.False(t, e.Resumable())
	assert.False(t, e.Reconnect())
	assert.True(t, (&voice.CloseError{Code: voice.CloseServerCrashed}).Resumable())
	assert.True(t, (&voice.CloseError{Code: voice.CloseSessionInvalid}).Reconnect())
	assert.False(t, (&voice.CloseError{Code: voice.CloseSessionInvalid}).Resumable())
	assert.False(t, (&voice.CloseError{Code: voice.CloseDisconnected}).Reconnect())
}

func TestDiscovery(t *testing.T) {
	req := voice.DiscoveryRequest(0x01020304)
	want := make([]byte, 74)
	copy(want, []byte{
		0x00, 0x01, // type: request
		0x00, 0x46, // length: 70
		0x01, 0x02, 0x03, 0x04, // SSRC
	}) // address and port: zero
	assert.Equal(t, want, req)
	assert.True(t, voice.IsDiscovery(req))
	ssrc, err := voice.ParseDiscoveryRequest(req)
	require.NoError(t, err)
	assert.Equal(t, uint32(0x01020304), ssrc)

	for _, ap := range []string{"127.0.0.1:50000", "[::1]:1", "[2001:db8::1234:5678:9abc:def0]:65535", "203.0.113.9:443"} {
		addr := netip.MustParseAddrPort(ap)
		resp := voice.DiscoveryResponse(nil, 7, addr)
		require.Len(t, resp, 74)
		assert.Equal(t, uint16(2), binary.BigEndian.Uint16(resp))
		assert.Equal(t, addr.Addr().String(), string(resp[8:8+len(addr.Addr().String())]))
		assert.Zero(t, resp[8+len(addr.Addr().String())], "NUL-terminated")
		s, got, err := voice.ParseDiscoveryResponse(resp)
		require.NoError(t, err)
		assert.Equal(t, uint32(7), s)
		assert.Equal(t, addr, got)
	}

	bad := map[string][]byte{
		"short":      req[:73],
		"long":       append(append([]byte{}, req...), 0),
		"wrong type": voice.DiscoveryRequest(1),
		"wrong length": func() []byte {
			b := voice.DiscoveryResponse(nil, 1, netip.MustParseAddrPort("1.2.3.4:5"))
			b[3] = 71
			return b
		}(),
		"no terminator": func() []byte {
			b := voice.DiscoveryResponse(nil, 1, netip.MustParseAddrPort("1.2.3.4:5"))
			copy(b[8:72], make64('9'))
			return b
		}(),
		"not an address": func() []byte {
			b := voice.DiscoveryResponse(nil, 1, netip.MustParseAddrPort("1.2.3.4:5"))
			copy(b[8:], "1.2.3.x")
			return b
		}(),
	}
	for name, b := range bad {
		t.Run(name, func(t *testing.T) {
			_, _, err := voice.ParseDiscoveryResponse(b)
			assert.ErrorIs(t, err, voice.ErrBadDiscovery)
		})
	}
	_, err = voice.ParseDiscoveryRequest(voice.DiscoveryResponse(nil, 1, netip.MustParseAddrPort("1.2.3.4:5")))
	assert.ErrorIs(t, err, voice.ErrBadDiscovery)
	assert.False(t, voice.IsDiscovery([]byte{0x80, 0x78, 0, 1}))
}

func make64(c byte) []byte {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return b
}

// FuzzParseMessage feeds the control-message parser garbage: no panic,
// and what parses marshals back to a message that parses the same.
func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{
		`{"op":0,"d":{"server_id":"1","user_id":"2","session_id":"3","token":"4"}}`,
		`{"op":3,"d":{"t":1,"seq_ack":2}}`, `{"op":3,"d":5}`, `{"op":7,"d":{"seq":3}}`,
		`{"op":4,"d":{"secret_key":[1,2]},"seq":9}`, `{"op":11,"s":2}`, `{}`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := voice.ParseMessage(b)
		if err != nil {
			require.ErrorIs(t, err, voice.ErrBadMessage)
			return
		}
		for _, v := range []any{&voice.Identify{}, &voice.SelectProtocol{}, &voice.Ready{}, &voice.Heartbeat{}, &voice.SessionDescription{}, &voice.Speaking{}, &voice.HeartbeatACK{}, &voice.Resume{}, &voice.Hello{}, &voice.ClientsConnect{}, &voice.ClientDisconnect{}} {
			if err := m.Decode(v); err != nil {
				require.ErrorIs(t, err, voice.ErrBadMessage)
			}
		}
		if !json.Valid(m.D) && len(m.D) != 0 {
			t.Fatalf("payload %q is not JSON", m.D)
		}
		again, err := voice.ParseMessage(m.Marshal())
		require.NoError(t, err)
		assert.Equal(t, m.Op, again.Op)
		assert.Equal(t, m.Seq < 0, again.Seq < 0)
	})
}

func TestBinaryFrames(t *testing.T) {
	b := voice.AppendServerBinary(nil, 0x0102, voice.OpDAVEMLSWelcome, []byte{0xaa, 0xbb})
	assert.Equal(t, []byte{
		0x01, 0x02, // seq
		30,         // op: MLS welcome
		0xaa, 0xbb, // payload
	}, b)
	seq, op, payload, err := voice.ParseServerBinary(b)
	require.NoError(t, err)
	assert.Equal(t, uint16(0x0102), seq)
	assert.Equal(t, voice.OpDAVEMLSWelcome, op)
	assert.Equal(t, []byte{0xaa, 0xbb}, payload)

	c := voice.AppendClientBinary(nil, voice.OpDAVEMLSKeyPackage, []byte{1})
	assert.Equal(t, []byte{26, 1}, c)
	op, payload, err = voice.ParseClientBinary(c)
	require.NoError(t, err)
	assert.Equal(t, voice.OpDAVEMLSKeyPackage, op)
	assert.Equal(t, []byte{1}, payload)

	_, _, _, err = voice.ParseServerBinary([]byte{0, 1})
	assert.ErrorIs(t, err, voice.ErrBadBinary)
	_, _, err = voice.ParseClientBinary(nil)
	assert.ErrorIs(t, err, voice.ErrBadBinary)
	assert.True(t, voice.IsDAVE(21))
	assert.True(t, voice.IsDAVE(31))
	assert.False(t, voice.IsDAVE(20))
	assert.False(t, voice.IsDAVE(32))
}

// FuzzBinaryFrames: whatever the bytes, the parsers do not panic, refuse
// only what is too short, and what parses appends back to the same bytes.
func FuzzBinaryFrames(f *testing.F) {
	f.Add([]byte{0, 1, 25, 1, 2, 3})
	f.Add([]byte{26})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			return
		}
		seq, op, payload, err := voice.ParseServerBinary(b)
		if len(b) < 3 {
			require.ErrorIs(t, err, voice.ErrBadBinary)
		} else {
			require.NoError(t, err)
			assert.Equal(t, b, voice.AppendServerBinary(nil, seq, op, payload))
		}
		op, payload, err = voice.ParseClientBinary(b)
		if len(b) < 1 {
			require.ErrorIs(t, err, voice.ErrBadBinary)
		} else {
			require.NoError(t, err)
			assert.Equal(t, b, voice.AppendClientBinary(nil, op, payload))
		}
	})
}
