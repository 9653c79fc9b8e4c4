package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newTestWeb returns a web side without WebRTC, serving its routes.
func newTestWeb(t *testing.T, out *syncBuffer) (*web, *httptest.Server) {
	t.Helper()
	w := &web{con: newConsole(out), cat: newCatalogue([]string{"tone1k_s16_48000_2.wav"}, false), quit: make(chan struct{}), channels: make(map[string]*channel)}
	mux := http.NewServeMux()
	w.routes(mux)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		hs.Close()
		w.close()
	})
	return w, hs
}

// TestGuildPosition: a track's first packet, whose position is negative
// (it holds the pre-skip), is shown at 0, never as a negative time.
func TestGuildPosition(t *testing.T) {
	w, hs := newTestWeb(t, new(syncBuffer))
	for _, tc := range []struct {
		pos  int64
		want float64
	}{{-312, 0}, {0, 0}, {48000 + 960, 1.02}} {
		w.relay("guild-1", []byte{0xfc, 0xff, 0xfe}, label{track: 0, pos: tc.pos, ok: true})
		res, err := http.Get(hs.URL + "/guilds")
		require.NoError(t, err)
		var list []nowPlaying
		err = json.NewDecoder(res.Body).Decode(&list)
		res.Body.Close()
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Equal(t, "tone1k_s16_48000_2.wav", list[0].Track)
		assert.InDelta(t, tc.want, list[0].Position, 1e-9, "position %d; got %v s", tc.pos, list[0].Position)
	}
}

// TestFavicon: the page's icon request is answered, not a 404.
func TestFavicon(t *testing.T) {
	_, hs := newTestWeb(t, new(syncBuffer))
	res, err := http.Get(hs.URL + "/favicon.ico")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusNoContent, res.StatusCode)
}

// TestBrowserReport: the line a page's report prints has what the browser
// test checks: samples received and the share concealed, the level and
// the strongest frequency.
func TestBrowserReport(t *testing.T) {
	var out syncBuffer
	w, hs := newTestWeb(t, &out)
	body := `{"guild":"guild-1","packets":200,"samples":192000,"concealed":48000,"removed":9600,"removedLater":960,"samplesLater":96000,"level":-9.04,"peak":440.4}`
	res, err := http.Post(hs.URL+"/report", "application/json", strings.NewReader(body))
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusNoContent, res.StatusCode)
	assert.Contains(t, out.String(), "browser report: guild-1: 200 packets received, 4.0 s of samples received, 1.00 s concealed (25.0%), 0.20 s removed to play faster (5.0%; 1.0% after the first 3 s), level -9.0 dBFS, strongest frequency 440 Hz")
	reps := w.stats().Reports
	require.Len(t, reps, 1)
	assert.InDelta(t, 0.25, reps[0].concealedShare(), 1e-9)
}
