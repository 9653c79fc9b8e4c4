//go:build cgo

package pipeline_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/streamcatcher/streamcatcher/internal/testutil"
)

// TestBuildsWithoutCgo builds the pipeline and its sinks with
// CGO_ENABLED=0, as a program without a C compiler would, and runs
// TestWithoutCgo in that build: Ogg Opus plays, encoding is refused with
// ErrNoLibopus.
func TestBuildsWithoutCgo(t *testing.T) {
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool:", err)
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(gotool, args...)
		cmd.Dir = testutil.Root(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "CGO_ENABLED=0 go %v:\n%s", args, out)
		return string(out)
	}
	run("build", "./pipeline/...")
	out := run("test", "-count=1", "-v", "-run", "^TestWithoutCgo$", "./pipeline")
	assert.Contains(t, out, "--- PASS: TestWithoutCgo", "the test ran, and passed")
}
