package interop_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/streamcatcher/streamcatcher/internal/nodetest"
)

// daveyVersion is the version of @snazzah/davey that package-lock.json
// pins.
const daveyVersion = "0.1.12"

// nodeErr is why davey cannot run here, nil if it can; set by TestMain.
var nodeErr error

func TestMain(m *testing.M) {
	// Installing before m.Run keeps npm's time out of the -timeout.
	nodeErr = nodetest.Install(map[string]string{"@snazzah/davey": daveyVersion})
	if nodeErr != nil {
		fmt.Fprintln(os.Stderr, "interop:", nodeErr)
	}
	goleak.VerifyTestMain(m)
}
