package sink_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// linkedModules returns the modules other than the standard library's
// whose packages pkg links, as go list -deps sees them.
func linkedModules(t *testing.T, pkg string) []string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go tool:", err)
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", pkg).Output()
	require.NoError(t, err, "go list -deps %s", pkg)
	var mods []string
	for _, m := range strings.Fields(string(out)) {
		if !slices.Contains(mods, m) {
			mods = append(mods, m)
		}
	}
	slices.Sort(mods)
	return mods
}

// TestLinkedModules checks what a program that sends through package sink
// links: the RTP sender, Discord's transport, HTTP, files and the voice
// libraries' adapters bring in golang.org/x's crypto and networking and
// nothing else; WebRTC, and pion's stack with it, comes only with
// webrtcsink.
func TestLinkedModules(t *testing.T) {
	const mod = "github.com/streamcatcher/streamcatcher"
	sink := linkedModules(t, mod+"/pipeline/sink")
	assert.Equal(t, []string{mod, "golang.org/x/crypto", "golang.org/x/net", "golang.org/x/sys"}, sink,
		"package sink links only these modules")
	for _, m := range sink {
		assert.False(t, strings.HasPrefix(m, "github.com/pion/"), "package sink links %s", m)
	}

	rtc := linkedModules(t, mod+"/pipeline/sink/webrtcsink")
	for _, m := range []string{"github.com/pion/webrtc/v4", "github.com/pion/ice/v4", "github.com/pion/dtls/v3",
		"github.com/pion/sctp", "github.com/pion/srtp/v3", "github.com/pion/interceptor"} {
		assert.Contains(t, rtc, m, "webrtcsink links pion's stack")
	}
}
