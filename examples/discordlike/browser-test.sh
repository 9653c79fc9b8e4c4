#!/usr/bin/env bash
# browser-test.sh checks the example's web page in a real browser: it runs
# the example with -serve, opens the page in headless Chromium on a guild,
# and waits for the page to report that it received the guild's audio
# over WebRTC (the page posts its own getStats counters, its level meter's
# loudest level and the strongest frequency it heard to /report, and the
# server prints them), and that the guild's HTTP Ogg Opus stream plays in
# an <audio> element. It checks that the audio was the track's: few
# samples concealed, a level of sound, a tone of the tracks. Chromium is
# installed from Debian if it is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

browser=""
for b in chromium chromium-browser google-chrome; do
	if command -v "$b" >/dev/null; then browser=$b; break; fi
done
if [ -z "$browser" ]; then
	echo "browser-test: installing Debian's chromium"
	sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
	browser=chromium
fi

tmp=$(mktemp -d)
server_pid=""
browser_pid=""
cleanup() {
	[ -n "$browser_pid" ] && kill "$browser_pid" 2>/dev/null || true
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

go build -o "$tmp/discordlike" ./examples/discordlike
# TRACKS (comma-separated files) replaces the default tracks: with others
# than those, whose tones the checks below know, the test must fail.
"$tmp/discordlike" -serve -guilds 3 -listeners 0 -faults=false ${TRACKS:+-tracks "$TRACKS"} >"$tmp/server.log" 2>&1 &
server_pid=$!

url=""
for _ in $(seq 100); do
	url=$(sed -n 's/.*web page \(http:[^ ]*\).*/\1/p' "$tmp/server.log" | head -1)
	[ -n "$url" ] && break
	sleep 0.1
done
if [ -z "$url" ]; then
	echo "browser-test: the server did not start"; cat "$tmp/server.log"; exit 1
fi
sleep 1 # the bots on the air
favicon=$(curl -s -o /dev/null -w '%{http_code}' "${url%/}/favicon.ico" || true)

# Headless, with autoplay allowed, loopback ICE candidates allowed (the
# server offers 127.0.0.1), no real audio device (a fake output).
"$browser" --headless=new --no-sandbox --disable-gpu --no-first-run \
	--user-data-dir="$tmp/profile" \
	--autoplay-policy=no-user-gesture-required \
	--allow-loopback-in-peer-connection \
	--disable-features=WebRtcHideLocalIpsWithMdns \
	--use-fake-ui-for-media-stream --use-fake-device-for-media-stream \
	"${url}?guild=guild-1&http=guild-1" >"$tmp/browser.log" 2>&1 &
browser_pid=$!

report=""
played=""
for _ in $(seq 600); do
	report=$(grep 'browser report:.*packets received' "$tmp/server.log" || true)
	played=$(grep 'browser report:.*HTTP stream played' "$tmp/server.log" || true)
	[ -n "$report" ] && [ -n "$played" ] && break
	if ! kill -0 "$browser_pid" 2>/dev/null; then
		echo "browser-test: the browser exited"; tail -20 "$tmp/browser.log"; exit 1
	fi
	sleep 0.1
done
kill "$browser_pid" 2>/dev/null || true
wait "$browser_pid" 2>/dev/null || true
browser_pid=""
kill -INT "$server_pid"
status=0
wait "$server_pid" || status=$?
server_pid=""

if [ -z "$report" ] || [ -z "$played" ]; then
	echo "browser-test: the page did not report WebRTC audio and the HTTP stream playing within 60 s"
	cat "$tmp/server.log"; tail -20 "$tmp/browser.log"; exit 1
fi
echo "browser-test: $report"
echo "browser-test: $played"
# The report: N packets received, S s of samples received, C s concealed
# (P%), R s removed to play faster (Q%), level L dBFS, strongest frequency
# F Hz. A channel of silence, or of noise, or one the browser mostly made
# up, must not pass: the samples concealed are well under those received,
# the level is that of sound, and the strongest frequency is a tone of the
# tracks guild-1 plays (the default tracks, testdata/README.md: 440 Hz and
# 660 Hz, and 1 kHz). Nor must a channel the browser had to play fast to
# catch up with (a burst at join, timestamps lagging the sender's clock):
# after the first 3 s (in which it removes what came while the page set
# its audio up), the samples its jitter buffer removed to accelerate are
# under 10% of those received.
num() { sed -n "s/.*$1.*/\1/p" <<<"$report"; }
packets=$(num ': \([0-9]*\) packets received')
received=$(num ' \([0-9.]*\) s of samples received')
share=$(num ' concealed (\([0-9.]*\)%)')
removed=$(num ' removed to play faster (\([0-9.]*\)%;')
later=$(num '; \([0-9.]*\)% after the first 3 s')
level=$(num 'level \(-*[0-9.]*\) dBFS')
freq=$(num 'strongest frequency \([0-9.]*\) Hz')
echo "browser-test: $packets packets, $received s received, $share% concealed, $removed% removed to play faster ($later% after the first 3 s), level $level dBFS, strongest $freq Hz"
fail=""
if [ "${packets:-0}" -lt 100 ] || ! awk -v d="${received:-0}" 'BEGIN { exit !(d >= 1) }'; then
	fail="too little audio: ${packets:-0} packets, ${received:-0} s received"
elif ! awk -v c="${share:-100}" 'BEGIN { exit !(c < 20) }'; then
	fail="${share:-?}% of the samples received were concealed (want under 20%)"
elif ! awk -v r="${later:-100}" 'BEGIN { exit !(r < 10) }'; then
	fail="${later:-?}% of the samples received after the first 3 s were removed to play faster (want under 10%)"
elif ! awk -v l="${level:--200}" 'BEGIN { exit !(l > -40) }'; then
	fail="level ${level:-?} dBFS: silence (want above -40 dBFS)"
elif ! awk -v f="${freq:-0}" 'BEGIN { n = split("440 660 1000", t, " "); for (i = 1; i <= n; i++) if (f > t[i] * 0.97 && f < t[i] * 1.03) exit 0; exit 1 }'; then
	fail="strongest frequency ${freq:-?} Hz is none of the tracks' tones (440, 660, 1000 Hz)"
fi
if [ -n "$fail" ]; then
	echo "browser-test: $fail"; exit 1
fi
if [ "$favicon" != 204 ]; then
	echo "browser-test: /favicon.ico answered $favicon, want 204"; exit 1
fi
if [ "$status" != 0 ]; then
	echo "browser-test: the example failed its own checks (exit $status)"; tail -30 "$tmp/server.log"; exit 1
fi
grep '^result:' "$tmp/server.log"
echo "browser-test: ok"
