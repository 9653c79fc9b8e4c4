package s3store_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/streamcatcher/streamcatcher/internal/s3test"
)

func TestMain(m *testing.M) {
	// The test binary run again as the second process of TestTwoProcesses.
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperMain())
	}
	if _, err := s3test.Prepare(); err != nil { // before m.Run starts the -timeout
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m)
}
