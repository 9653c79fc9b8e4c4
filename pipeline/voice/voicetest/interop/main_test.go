package interop_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/streamcatcher/streamcatcher/internal/nodetest"
)

// pins are the npm packages, and their versions, that package-lock.json
// pins and the tests need.
var pins = map[string]string{
	"@discordjs/voice": "0.19.2",
	"@snazzah/davey":   "0.1.12",
	"@noble/ciphers":   "2.4.0",
}

// nodeErr is why discord.js cannot run here, nil if it can; set by
// TestMain.
var nodeErr error

func TestMain(m *testing.M) {
	// Installing before m.Run keeps npm's time out of the -timeout.
	nodeErr = nodetest.Install(pins)
	if nodeErr != nil {
		fmt.Fprintln(os.Stderr, "interop:", nodeErr)
	}
	goleak.VerifyTestMain(m)
}
