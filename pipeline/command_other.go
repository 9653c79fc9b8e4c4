//go:build !unix

package pipeline

import "os/exec"

// setProcessGroup does nothing where there are no process groups.
func setProcessGroup(cmd *exec.Cmd) {}

// killGroup kills the command's own process (its children are not
// reached on this platform).
func killGroup(cmd *exec.Cmd) { _ = cmd.Process.Kill() }
