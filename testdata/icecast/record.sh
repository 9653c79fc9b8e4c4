#!/bin/sh
# record.sh records a listener's session of a real Icecast server, for the
# pipeline's tests (testdata/README.md describes the files). The tests only
# read what it wrote; they never run it nor need the tools it uses.
#
# Tools (Debian 12): apt-get install -y icecast2 ffmpeg curl perl
#
# It starts Icecast on 127.0.0.1 (a free port, its own config in a temp
# dir), pushes the fixture program (testdata/make.sh's, looped) to it with
# ffmpeg at 64 kbit/s, once as MP3 (/radio.mp3) and once as Ogg Opus
# (/radio.opus), and records what a client asking with Icy-MetaData: 1
# receives: the raw response headers (NAME.headers) and the raw body
# (NAME.body), while the title is changed through Icecast's admin API at
# fixed times. The titles and the timings are fixed; the bytes depend on
# when the client's connection lands within the source's stream, so a
# second run gives a session alike, not the same bytes.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

PASS=sourcepass
ADMIN=adminpass
# A free port: bind to port 0 and take what the kernel gave.
PORT=$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1:0")->sockport')
BASE=http://127.0.0.1:$PORT

# Icecast refuses to run as root unless it changes owner.
owner=""
if [ "$(id -u)" = 0 ]; then
	owner="<changeowner><user>nobody</user><group>nogroup</group></changeowner>"
	chmod 777 "$tmp"
fi
mkdir -p "$tmp/log"
chmod 777 "$tmp/log"
cat > "$tmp/icecast.xml" <<XML
<icecast>
  <location>fixture</location>
  <admin>fixture@localhost</admin>
  <hostname>127.0.0.1</hostname>
  <limits>
    <clients>10</clients>
    <sources>2</sources>
    <queue-size>524288</queue-size>
    <client-timeout>30</client-timeout>
    <header-timeout>15</header-timeout>
    <source-timeout>10</source-timeout>
    <burst-on-connect>1</burst-on-connect>
    <burst-size>65535</burst-size>
  </limits>
  <authentication>
    <source-password>$PASS</source-password>
    <admin-user>admin</admin-user>
    <admin-password>$ADMIN</admin-password>
  </authentication>
  <listen-socket>
    <port>$PORT</port>
    <bind-address>127.0.0.1</bind-address>
  </listen-socket>
  <paths>
    <basedir>/usr/share/icecast2</basedir>
    <logdir>$tmp/log</logdir>
    <webroot>/usr/share/icecast2/web</webroot>
    <adminroot>/usr/share/icecast2/admin</adminroot>
  </paths>
  <logging>
    <accesslog>access.log</accesslog>
    <errorlog>error.log</errorlog>
    <loglevel>3</loglevel>
  </logging>
  <security>
    <chroot>0</chroot>
    $owner
  </security>
</icecast>
XML
icecast2 -c "$tmp/icecast.xml" &
pids="$pids $!"
i=0
until curl -s -o /dev/null "$BASE/status-json.xsl"; do
	i=$((i + 1)); [ $i -lt 50 ] || { echo "icecast did not start" >&2; cat "$tmp/log/error.log" >&2; exit 1; }
	sleep 0.1
done

# The program of make.sh, 3 s, looped by ffmpeg.
L='if(lt(t,0.5),0,if(lt(t,1.5),0.5*sin(2*PI*440*(t-0.5)),if(lt(t,2),0,0.5*sin(2*PI*(200*(t-2)+1900*(t-2)*(t-2))))))'
R='if(lt(t,0.5),0,if(lt(t,1.5),0.5*sin(2*PI*660*(t-0.5)),if(lt(t,2),0,0.5*sin(2*PI*(200*(t-2)+1900*(t-2)*(t-2))))))'
ffmpeg -nostdin -hide_banner -loglevel error -y -f lavfi -i "aevalsrc=exprs='$L|$R':s=48000:d=3" -c:a pcm_s16le "$tmp/prog.wav"

title() { # mount title
	curl -s -u "admin:$ADMIN" -G "$BASE/admin/metadata" \
		--data-urlencode "mount=$1" --data-urlencode mode=updinfo --data-urlencode "song=$2" \
		| sed -n 's:.*<message>\(.*\)</message>.*:\1:p' >&2
}

# record NAME MOUNT SECONDS GAP FFMPEG-OUTPUT-OPTIONS...: push the program
# to MOUNT with ffmpeg for longer than the recording, then record SECONDS of
# it from a client's connection while the title is changed every GAP
# seconds, three times. ffmpeg writes no ID3v2 tag nor Xing frame (-id3v2_version 0,
# -write_xing 0): the MP3 is a live encoder's frames.
record() {
	name=$1 mount=$2 secs=$3 gap=$4; shift 4
	ffmpeg -nostdin -hide_banner -loglevel error -re -stream_loop -1 -i "$tmp/prog.wav" -t $((secs + 2)) \
		-ac 2 -b:a 64k "$@" -content_type "$ctype" -ice_name "Fixture Radio" -ice_description "The fixture program" \
		-ice_genre Test -ice_url http://radio.example/ -ice_public 0 \
		"icecast://source:$PASS@127.0.0.1:$PORT$mount" &
	src=$!
	pids="$pids $src"
	mounted "$mount"
	listen "$name" "$mount" --max-time "$secs" &
	cli=$!
	sleep "$gap"; title "$mount" 'First Song - The Tone'
	sleep "$gap"; title "$mount" 'Café Olé - Ünïcödé ☕'
	sleep "$gap"; title "$mount" "It's \"Quoted\"; O'Brien"
	wait $cli || true # ended by --max-time
	kill $src 2>/dev/null || true
	wait $src 2>/dev/null || true
}

# mounted MOUNT waits until MOUNT is on the air.
mounted() {
	i=0
	until [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 0.3 "$BASE$1" || true)" = 200 ]; do
		i=$((i + 1)); [ $i -lt 100 ] || { echo "$1 did not start" >&2; exit 1; }
		sleep 0.1
	done
}

# listen NAME MOUNT CURL-OPTIONS... records a client's session of MOUNT, as
# NAME.headers and NAME.body.
listen() {
	name=$1 mount=$2; shift 2
	curl -s -D "$tmp/$name.headers" -H 'Icy-MetaData: 1' -o "$tmp/$name.body" "$@" "$BASE$mount" || true
	cp "$tmp/$name.headers" "$name.headers"
	cp "$tmp/$name.body" "$name.body"
}

ctype=audio/mpeg record mp3 /radio.mp3 12 3 -c:a libmp3lame -f mp3 -id3v2_version 0 -write_xing 0
ctype=audio/ogg record opus /radio.opus 4 1 -c:a libopus -f ogg

# An Ogg radio changes its title by starting a new chained link whose
# OpusTags carry it: three links of the program (3 s each; fixed serials and
# titles), pushed with HTTP PUT (Icecast 2.4's source protocol) at about
# the stream's rate, and recorded until the source ends, which ends the
# listener's response.
for n in 1 2 3; do
	case $n in
	1) t='First Song - The Tone' ;;
	2) t='Café Olé - Ünïcödé ☕' ;;
	3) t="It's \"Quoted\"; O'Brien" ;;
	esac
	opusenc --quiet --serial $((5000 + n)) --bitrate 64 --comp 10 --framesize 20 --title "$t" --artist 'Fixture Radio' \
		"$tmp/prog.wav" "$tmp/link$n.opus"
done
cat "$tmp/link1.opus" "$tmp/link2.opus" "$tmp/link3.opus" > "$tmp/chained.opus"
rate=$(($(wc -c < "$tmp/chained.opus") / 9 + 1))
curl -s -o /dev/null -T "$tmp/chained.opus" --limit-rate "$rate" -H 'Content-Type: audio/ogg' -H 'Expect:' \
	-H 'Ice-Name: Fixture Radio' -H 'Ice-Public: 0' "http://source:$PASS@127.0.0.1:$PORT/chained.opus" &
src=$!
pids="$pids $src"
mounted /chained.opus
listen chained /chained.opus --max-time 30
wait $src || true

icecast2 -v >&2
ffmpeg -hide_banner -version | head -1 >&2
opusenc --version | head -1 >&2
