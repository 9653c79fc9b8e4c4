package s3test

import "syscall"

// procAttr has the kernel kill the server if the test process dies
// before its Cleanup runs.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
