package main

import (
	"fmt"
	"io"
	"os"
	"sync"
)

// console writes lines and, on a terminal, one live progress line below
// them; elsewhere the progress comes as plain lines, less often.
type console struct {
	mu     sync.Mutex // guards the writes and status
	w      io.Writer
	tty    bool
	status string
}

func newConsole(w io.Writer) *console {
	c := &console{w: w}
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			c.tty = true
		}
	}
	return c
}

// line prints a line above the progress line.
func (c *console) line(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tty && c.status != "" {
		fmt.Fprint(c.w, "\r\033[K")
	}
	fmt.Fprintln(c.w, s)
	if c.tty && c.status != "" {
		fmt.Fprint(c.w, c.status)
	}
}

func (c *console) linef(format string, args ...any) { c.line(fmt.Sprintf(format, args...)) }

// progress replaces the progress line (a terminal) or prints it.
func (c *console) progress(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tty {
		fmt.Fprint(c.w, "\r\033[K"+s)
		c.status = s
		return
	}
	fmt.Fprintln(c.w, s)
}

// endProgress leaves the progress line as it is, and goes on below it.
func (c *console) endProgress() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tty && c.status != "" {
		fmt.Fprintln(c.w)
	}
	c.status = ""
}
