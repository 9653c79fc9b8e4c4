package catcher

// SetFillStartHook makes h run at the start of every fill goroutine, before
// it takes the Catcher's lock, until the returned function restores the
// previous hook. The caller must restore it only when no fill goroutine can
// be starting.
func SetFillStartHook(h func(*Catcher)) (restore func()) {
	old := fillStartHook
	fillStartHook = h
	return func() { fillStartHook = old }
}
