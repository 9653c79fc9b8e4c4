package voicetest

import "errors"

// ErrReplaced is why a session ended that was waiting for a resume when
// its client identified anew with the same session ID (what discord.js
// does when its resume fails): the new session takes its place at once.
var ErrReplaced = errors.New("voicetest: session replaced by a new Identify")
