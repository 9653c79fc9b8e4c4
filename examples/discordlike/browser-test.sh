#!/usr/bin/env bash
# browser-test.sh checks the example's web page in a real browser: it runs
# the example with -serve, opens the page in headless Chromium on a guild,
# and waits for the page to report that it received and decoded the
# guild's audio over WebRTC (the page posts its own getStats counters and
# level meter to /report, and the server prints them), and that the
# guild's HTTP Ogg Opus stream plays in an <audio> element. Chromium is
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
"$tmp/discordlike" -serve -guilds 3 -listeners 0 -faults=false >"$tmp/server.log" 2>&1 &
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
# The report: N packets received, S s decoded, C s concealed, peak level L dBFS.
packets=$(sed -n 's/.*: \([0-9]*\) packets received.*/\1/p' <<<"$report")
decoded=$(sed -n 's/.* \([0-9.]*\) s decoded.*/\1/p' <<<"$report")
if [ "${packets:-0}" -lt 100 ] || ! awk -v d="$decoded" 'BEGIN { exit !(d >= 1) }'; then
	echo "browser-test: too little audio: $packets packets, $decoded s decoded"; exit 1
fi
if [ "$status" != 0 ]; then
	echo "browser-test: the example failed its own checks (exit $status)"; tail -30 "$tmp/server.log"; exit 1
fi
grep '^result:' "$tmp/server.log"
echo "browser-test: ok"
