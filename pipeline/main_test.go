package pipeline_test

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/streamcatcher/streamcatcher/internal/s3test"
)

func TestMain(m *testing.M) {
	if _, err := s3test.Prepare(); err != nil { // the S3 server of the stored seeks' tests, before m.Run starts the -timeout
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	goleak.VerifyTestMain(m)
}
