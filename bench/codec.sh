#!/usr/bin/env bash
# Times the codec path (MP3 and FLAC decode, WebM and Ogg Opus passed
# through into a cache, Opus encode, MP3 -> Opus into a cache) beside
# ffmpeg doing the same on the same files. It installs ffmpeg from Debian
# if it is missing (the tests never need it), makes a SECS-second version
# of the fixtures' program as MP3 at 44.1 and 48 kHz, as 16-bit FLAC at
# 44.1 kHz and as WebM and Ogg Opus in a temporary folder, runs ffmpeg on
# one thread REPS times, then the Go benchmarks on those files with
# -count COUNT.
#
# Environment (defaults in brackets):
#   COUNT  runs of each Go benchmark [5]
#   REPS   runs of each ffmpeg command [5]
#   SECS   length of the test audio in seconds [60]
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-5}
REPS=${REPS:-5}
SECS=${SECS:-60}

if ! command -v ffmpeg >/dev/null; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }

# The fixtures' program (testdata/README.md), repeated to SECS seconds.
L='if(lt(mod(t,3),0.5),0,if(lt(mod(t,3),1.5),0.5*sin(2*PI*440*(mod(t,3)-0.5)),if(lt(mod(t,3),2),0,0.5*sin(2*PI*(200*(mod(t,3)-2)+1900*(mod(t,3)-2)*(mod(t,3)-2))))))'
R='if(lt(mod(t,3),0.5),0,if(lt(mod(t,3),1.5),0.5*sin(2*PI*660*(mod(t,3)-0.5)),if(lt(mod(t,3),2),0,0.5*sin(2*PI*(200*(mod(t,3)-2)+1900*(mod(t,3)-2)*(mod(t,3)-2))))))'
for rate in 44100 48000; do
	ff -f lavfi -i "aevalsrc=exprs='$L|$R':s=$rate:d=$SECS" -c:a libmp3lame -b:a 128k "$tmp/prog$rate.mp3"
done
ff -f lavfi -i "aevalsrc=exprs='$L|$R':s=44100:d=$SECS" -c:a flac -sample_fmt s16 "$tmp/prog44100.flac"
# WebM and Ogg Opus at 128 kbit/s (20 ms packets), for the passthrough.
ff -f lavfi -i "aevalsrc=exprs='$L|$R':s=48000:d=$SECS" -c:a libopus -b:a 128k "$tmp/prog48000.webm"
ff -i "$tmp/prog48000.webm" -c:a copy "$tmp/prog48000.opus"

# timeit CMD...: the median wall time of REPS runs, in seconds.
timeit() {
	for _ in $(seq "$REPS"); do
		s=$(date +%s.%N)
		"$@"
		e=$(date +%s.%N)
		awk -v e="$e" -v s="$s" 'BEGIN {print e - s}'
	done | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
xrt() { awk -v n="$SECS" -v t="$1" 'BEGIN {printf "%.1f", n / t}'; }

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ffmpeg $(ffmpeg -version | head -1 | cut -d' ' -f3), one thread, median of $REPS, ${SECS} s of audio:"
t=$(timeit ff -threads 1 -i "$tmp/prog44100.mp3" -f null -)
echo "  MP3 decode (44.1 kHz):                 $(xrt "$t")x real time"
t=$(timeit ff -threads 1 -i "$tmp/prog44100.flac" -f null -)
echo "  FLAC decode (44.1 kHz, 16-bit):        $(xrt "$t")x real time"
t=$(timeit ff -threads 1 -i "$tmp/prog48000.webm" -c:a copy -f null -)
echo "  WebM Opus, -c:a copy:                  $(xrt "$t")x real time"
t=$(timeit ff -threads 1 -i "$tmp/prog48000.opus" -c:a copy -f null -)
echo "  Ogg Opus, -c:a copy:                   $(xrt "$t")x real time"
t=$(timeit ff -threads 1 -i "$tmp/prog44100.mp3" -ar 48000 -c:a libopus -b:a 128k -f ogg /dev/null)
echo "  MP3 44.1 kHz -> 48 kHz -> Opus 128k:   $(xrt "$t")x real time"
t=$(timeit ff -threads 1 -i "$tmp/prog48000.mp3" -c:a libopus -b:a 128k -f ogg /dev/null)
echo "  MP3 48 kHz -> Opus 128k:               $(xrt "$t")x real time"

echo "Go benchmarks (x-realtime), -count $COUNT:"
# Whole files (one an operation) for the decode and transcode benchmarks;
# 20 ms frames for the encoder alone, which needs many operations.
{
	CODEC_BENCH_MP3="$tmp/prog44100.mp3" CODEC_BENCH_MP3_48K="$tmp/prog48000.mp3" CODEC_BENCH_FLAC="$tmp/prog44100.flac" \
		go test -run '^$' -bench '^BenchmarkCodec(MP3Decode|FLACDecode|Transcode)' -benchtime 1x -cpu 1,2 -count "$COUNT" ./bench
	CODEC_BENCH_WEBM="$tmp/prog48000.webm" CODEC_BENCH_OGG="$tmp/prog48000.opus" \
		go test -run '^$' -bench '^BenchmarkCodecWebMCopy' -benchtime 20x -cpu 1 -count "$COUNT" ./bench
	CODEC_BENCH_MP3_48K="$tmp/prog48000.mp3" \
		go test -run '^$' -bench '^BenchmarkCodecOpusEncode' -benchtime 2s -cpu 1 -count "$COUNT" ./bench
} | tee "$tmp/go.txt" | grep -E '^Benchmark' |
	awk '{for (i = 1; i <= NF; i++) if ($(i+1) == "x-realtime") v[$1] = v[$1] " " $i} END {for (k in v) print k, v[k]}' |
	sort | while read -r name vals; do
		echo "  $name: $(echo "$vals" | tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {printf "min %s  median %s  max %s", a[1], a[int((NR+1)/2)], a[NR]}')"
	done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
