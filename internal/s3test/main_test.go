package s3test_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/streamcatcher/streamcatcher/internal/s3test"
)

func TestMain(m *testing.M) {
	if _, err := s3test.Prepare(); err != nil { // before m.Run starts the -timeout
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}
