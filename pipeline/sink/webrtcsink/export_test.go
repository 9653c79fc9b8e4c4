package webrtcsink

// ReaderEnded reports whether the peer's RTCP reader has ended.
func ReaderEnded(p *Peer) bool {
	select {
	case <-p.rtcpDone:
		return true
	default:
		return false
	}
}
