#!/usr/bin/env bash
# Times MP3 decoding on one core: ffmpeg (`ffmpeg -threads 1 -i f.mp3 -f
# null -`), the package's own decoder (mp3.Native) and go-mp3, on the same
# file, in interleaved rounds: each round runs ffmpeg once and
# BenchmarkMP3EngineDecode once (both Go decoders, in one process, one
# whole decode each). The file is SECS seconds of music-like stereo, made
# here: pink noise (a different one on each channel) under two tones that
# strike and decay (attacks every 0.5 s and 0.37 s), 128 kbit/s joint
# stereo from LAME. It prints, for each, the min, median and max over the
# rounds of the wall time and of the CPU time (user + system: ffmpeg's
# from the process, the Go decoders' from the benchmark's cpu-ns/op), and
# the load before and after. ffmpeg-1s is ffmpeg on the file's first
# second: its cost of starting and ending, which its figures include and
# the Go benchmark's do not. Wall times compare only on an idle machine;
# under load the CPU times, and the ratio of the Go decoders in one
# process, are the steadier figures.
#
# Environment (defaults in brackets):
#   ROUNDS  rounds [5]
#   SECS    length of the test audio in seconds [180]
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-5}
SECS=${SECS:-180}

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

ff -f lavfi -i "anoisesrc=color=pink:d=$SECS:a=0.2:r=44100:seed=1" \
	-f lavfi -i "anoisesrc=color=pink:d=$SECS:a=0.2:r=44100:seed=2" \
	-f lavfi -i "aevalsrc=exprs='0.3*sin(2*PI*440*t)*exp(-3*mod(t,0.5))|0.3*sin(2*PI*660*t)*exp(-4*mod(t,0.37))':s=44100:d=$SECS" \
	-filter_complex "[0][1]join=inputs=2:channel_layout=stereo[n];[n][2]amix=inputs=2:normalize=0" \
	-f wav "$tmp/music.wav"
lame --quiet -b 128 "$tmp/music.wav" "$tmp/music.mp3"
# Its first second, for ffmpeg's cost of starting and ending.
ff -i "$tmp/music.mp3" -t 1 -c copy "$tmp/first.mp3"
go test -c -o "$tmp/bench.test" ./bench

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq "$ROUNDS"); do
	/usr/bin/time -f "ffmpeg %e %U %S" ffmpeg -nostdin -loglevel error -threads 1 -i "$tmp/music.mp3" -f null - 2>>"$tmp/times"
	/usr/bin/time -f "ffmpeg-1s %e %U %S" ffmpeg -nostdin -loglevel error -threads 1 -i "$tmp/first.mp3" -f null - 2>>"$tmp/times"
	(cd bench && CODEC_BENCH_MP3="$tmp/music.mp3" "$tmp/bench.test" -test.run '^$' -test.bench '^BenchmarkMP3EngineDecode' \
		-test.benchtime 1x -test.cpu 1) | awk '/^BenchmarkMP3EngineDecode/ {
			split($1, n, "/"); sub(/-[0-9]+$/, "", n[2])
			for (i = 1; i <= NF; i++) { if ($(i+1) == "ns/op") w = $i / 1e9; if ($(i+1) == "cpu-ns/op") c = $i / 1e9 }
			print n[2], w, c }' >>"$tmp/times"
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "${SECS} s of audio, $ROUNDS rounds; seconds, min / median / max:"
# stats: min / median / max of the numbers on stdin.
stats() { sort -g | awk '{a[NR] = $1} END {printf "%.3f / %.3f / %.3f", a[1], a[int((NR + 1) / 2)], a[NR]}'; }
for who in ffmpeg ffmpeg-1s native go-mp3; do
	# ffmpeg's lines: wall, user, system; the Go decoders': wall, CPU.
	wall=$(awk -v who="$who" '$1 == who {print $2}' "$tmp/times" | stats)
	cpu=$(awk -v who="$who" '$1 == who {print (NF == 4 ? $3 + $4 : $3)}' "$tmp/times" | stats)
	printf "  %-9s wall %s   cpu %s\n" "$who" "$wall" "$cpu"
done
