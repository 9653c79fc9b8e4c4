package opus

// Application is an Opus encoder's tuning (RFC 6716's OPUS_APPLICATION_*
// modes). It is here, apart from the encoder in package libopus, so that
// code that only names one (a track's settings, a library's keys) builds
// without cgo.
type Application int

const (
	// AppAudio favours fidelity to the input, for music. It is the
	// default.
	AppAudio Application = iota
	// AppVoIP favours intelligibility, for speech.
	AppVoIP
	// AppLowDelay ("restricted low delay") uses CELT only, for the least
	// delay: 2.5 ms of lookahead instead of 6.5 ms.
	AppLowDelay
)
