#!/usr/bin/env bash
# Times a whole transcode, MP3 to 48 kHz Opus at 128 kbit/s (the
# Library's default), through NewTrack beside ffmpeg doing the same on the
# same file (`ffmpeg -threads 1 -i music.mp3 -ar 48000 -c:a libopus -b:a
# 128k -f ogg /dev/null`), in interleaved rounds. Each round runs:
#   - ffmpeg, one thread, and ffmpeg on the file's first second (its cost
#     of starting and ending, which its figures include and the Go
#     benchmark's do not);
#   - BenchmarkTrackTranscode serial, -cpu 1 (GOMAXPROCS 1), with each MP3
#     decoder (mp3.Native, go-mp3): one whole track each;
#   - BenchmarkTrackTranscode serial and pipelined, -cpu 2 (GOMAXPROCS 2);
#   - BenchmarkTrackTranscodeFirstPacket, -cpu 2: the time from NewTrack
#     to the first packet, serial and pipelined in turn, FIRST tracks of
#     each; the median of each.
# The file is SECS seconds of music-like stereo, made here: the fixtures'
# program (testdata/make.sh: a tone, silence, a sweep; 3 s looped) under
# pink noise (a different one on each channel) and two tones that strike
# and decay, 128 kbit/s joint stereo at 44.1 kHz from LAME.
#
# It prints, for each, the min, median and max over the rounds of the wall
# time and of the CPU time (user + system: ffmpeg's from the process, the
# Go benchmark's from its cpu-ns/op), the first packet's time, and the
# load before and after. Wall times compare only on a machine with the
# cores free; under load, the CPU times are the steadier figures.
#
# Environment (defaults in brackets):
#   ROUNDS  rounds [5]
#   SECS    length of the test audio in seconds [180]
#   FIRST   tracks timed to their first packet, a round [20]
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
SECS=${SECS:-180}
FIRST=${FIRST:-20}

need=""
command -v ffmpeg >/dev/null || need="$need ffmpeg"
command -v lame >/dev/null || need="$need lame"
if [ -n "$need" ]; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }

# The fixtures' program (see testdata/make.sh), looped.
L='if(lt(t,0.5),0,if(lt(t,1.5),0.5*sin(2*PI*440*(t-0.5)),if(lt(t,2),0,0.5*sin(2*PI*(200*(t-2)+1900*(t-2)*(t-2))))))'
R='if(lt(t,0.5),0,if(lt(t,1.5),0.5*sin(2*PI*660*(t-0.5)),if(lt(t,2),0,0.5*sin(2*PI*(200*(t-2)+1900*(t-2)*(t-2))))))'
ff -f lavfi -i "aevalsrc=exprs='$L|$R':s=44100:d=3" -c:a pcm_s16le "$tmp/prog.wav"
ff -stream_loop -1 -i "$tmp/prog.wav" \
	-f lavfi -i "anoisesrc=color=pink:d=$SECS:a=0.15:r=44100:seed=1" \
	-f lavfi -i "anoisesrc=color=pink:d=$SECS:a=0.15:r=44100:seed=2" \
	-f lavfi -i "aevalsrc=exprs='0.2*sin(2*PI*330*t)*exp(-3*mod(t,0.5))|0.2*sin(2*PI*495*t)*exp(-4*mod(t,0.37))':s=44100:d=$SECS" \
	-filter_complex "[0]volume=0.5[p];[1][2]join=inputs=2:channel_layout=stereo[n];[p][n][3]amix=inputs=3:normalize=0:duration=shortest" \
	-t "$SECS" -c:a pcm_s16le "$tmp/music.wav"
lame --quiet -b 128 "$tmp/music.wav" "$tmp/music.mp3"
# Its first second, for ffmpeg's cost of starting and ending.
ff -i "$tmp/music.mp3" -t 1 -c copy "$tmp/first.mp3"
go test -c -o "$tmp/bench.test" ./bench

# gobench runs the Go benchmarks of pattern $1 at -cpu $2, $3 operations
# each, and appends a line a benchmark to the times: its name, the -cpu,
# its wall time and CPU time an operation, in seconds.
gobench() {
	(cd bench && TRANSCODE_BENCH_MP3="$tmp/music.mp3" "$tmp/bench.test" -test.run '^$' -test.bench "$1" \
		-test.benchtime "$3x" -test.cpu "$2") | awk -v cpu="$2" '/^BenchmarkTrackTranscode/ {
			name = $1; sub(/^BenchmarkTrackTranscode\/?/, "", name); sub(/-[0-9]+$/, "", name)
			w = 0; c = 0; s = 0; p = 0
			for (i = 1; i <= NF; i++) {
				if ($(i+1) == "ns/op") w = $i / 1e9; if ($(i+1) == "cpu-ns/op") c = $i / 1e9
				if ($(i+1) == "serial-ns") s = $i / 1e9; if ($(i+1) == "pipelined-ns") p = $i / 1e9
			}
			if (name == "FirstPacket") { print "first-packet/serial", cpu, s, 0; print "first-packet/pipelined", cpu, p, 0 }
			else print name, cpu, w, c }' >>"$tmp/times"
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(go version | cut -d' ' -f3), $(ffmpeg -version | head -1 | cut -d' ' -f1-3)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$ROUNDS"); do
	/usr/bin/time -f "ffmpeg 1 %e %U %S" ffmpeg -nostdin -loglevel error -y -threads 1 -i "$tmp/music.mp3" \
		-ar 48000 -c:a libopus -b:a 128k -f ogg /dev/null 2>>"$tmp/times"
	/usr/bin/time -f "ffmpeg-1s 1 %e %U %S" ffmpeg -nostdin -loglevel error -y -threads 1 -i "$tmp/first.mp3" \
		-ar 48000 -c:a libopus -b:a 128k -f ogg /dev/null 2>>"$tmp/times"
	gobench '^BenchmarkTrackTranscode$/serial' 1 1
	gobench '^BenchmarkTrackTranscode$' 2 1
	gobench '^BenchmarkTrackTranscodeFirstPacket$' 2 "$FIRST"
	echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "${SECS} s of audio, $ROUNDS rounds; seconds, min / median / max:"
# stats: min / median / max of the numbers on stdin.
stats() { sort -g | awk '{a[NR] = $1} END {printf "%.4f / %.4f / %.4f", a[1], a[int((NR + 1) / 2)], a[NR]}'; }
awk '{print $1, $2}' "$tmp/times" | sort -u | while read -r who cpu; do
	# ffmpeg's lines: name, 1, wall, user, system; the Go benchmarks':
	# name, -cpu, wall, CPU.
	sel() { awk -v who="$who" -v cpu="$cpu" '$1 == who && $2 == cpu'; }
	wall=$(sel <"$tmp/times" | awk '{print $3}' | stats)
	cputime=$(sel <"$tmp/times" | awk '{print (NF == 5 ? $4 + $5 : $4)}' | stats)
	case $who in
	first-packet/*)
		ms=$(sel <"$tmp/times" | awk '{print $3 * 1000}' | stats)
		printf "  %-24s -cpu %s  median time (ms) %s\n" "$who" "$cpu" "$ms"
		;;
	*) printf "  %-24s -cpu %s  wall %s   cpu %s\n" "$who" "$cpu" "$wall" "$cputime" ;;
	esac
done
