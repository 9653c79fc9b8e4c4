#!/usr/bin/env bash
# Times soxr (sox's rate effect) resampling 44.1 kHz stereo to 48 kHz at its
# -m, -h and -v settings, and at -m and -h with -a (aliasing allowed above
# the passband, as the transform package's presets allow it), on one core,
# and prints times real time beside the Go benchmarks of the transform
# package run on the same input.
#
# It installs sox from Debian if it is missing, makes SECONDS_IN seconds of
# stereo f32le noise at 44.1 kHz (repeatable: sox -R), times REPS runs of
#   sox --single-threaded -t raw ... in.f32 -t raw ... /dev/null rate SETTING 48000
# pinned to one CPU with taskset (when present), and the same command without
# the rate effect (the cost of sox reading and writing, which it also
# prints). Then it runs
#   BENCH_TRANSFORM_INPUT=in.f32 go test -bench TransformResample -cpu 1 \
#     -benchtime 0.2s -count COUNT
# on that input, unless GO=0, and prints the best and median x-realtime of
# each benchmark. Short runs, many of them, and the best of them: other load
# on the machine only ever slows a run down, so the best is the figure
# least disturbed, for sox and Go alike.
#
# Environment (defaults in brackets):
#   SECONDS_IN  length of the input [60]
#   REPS        runs of each sox setting [10]
#   COUNT       go test -count [10]
#   GO          1 to run the Go benchmarks too [1]
#   WORK        directory for the input [a temporary one, removed at exit]
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_IN=${SECONDS_IN:-60}
REPS=${REPS:-10}
COUNT=${COUNT:-10}
GO=${GO:-1}

if ! command -v sox >/dev/null; then
	echo "sox not found; installing it from Debian" >&2
	apt-get update && apt-get install -y sox
fi

if [ -n "${WORK:-}" ]; then
	mkdir -p "$WORK"
else
	WORK=$(mktemp -d)
	trap 'rm -rf "$WORK"' EXIT
fi
in=$WORK/in-44100-f32le-stereo.raw
raw=(-t raw -r 44100 -c 2 -b 32 -e floating-point)
out=(-t raw -b 32 -e floating-point /dev/null)

sox -R -n "${raw[@]}" "$in" synth "$SECONDS_IN" pinknoise vol 0.5
pin=()
if command -v taskset >/dev/null; then
	pin=(taskset -c 0)
fi

# elapsed runs its arguments once and prints the wall time in seconds.
elapsed() {
	local t0 t1
	t0=$(date +%s.%N)
	"$@" >/dev/null 2>&1
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", b - a }'
}

# div prints $1 / $2.
div() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f\n", a / b }'; }

# stats reads times, one a line, and prints min and median.
stats() {
	sort -g | awk '{ t[NR] = $1 } END { printf "%s %s\n", t[1], t[int((NR + 1) / 2)] }'
}

echo "sox $(sox --version | sed 's/.*SoX v//'), ${SECONDS_IN} s of 44.1 kHz stereo f32le to 48 kHz, $REPS runs each, one core"
echo "setting       best s   median s   x-realtime (best)   x-realtime (median)   net of I/O (best)"
read -r copy_min copy_med < <(for _ in $(seq "$REPS"); do elapsed "${pin[@]}" sox --single-threaded "${raw[@]}" "$in" "${out[@]}"; done | stats)
printf "%-11s %8.3f %10.3f %18.0f %21.0f\n" "copy" "$copy_min" "$copy_med" \
	"$(div "$SECONDS_IN" "$copy_min")" "$(div "$SECONDS_IN" "$copy_med")"
for q in "-m" "-h" "-v" "-m -a" "-h -a"; do
	# shellcheck disable=SC2086 # $q is one or two options
	read -r tmin tmed < <(for _ in $(seq "$REPS"); do elapsed "${pin[@]}" sox --single-threaded "${raw[@]}" "$in" "${out[@]}" rate $q 48000; done | stats)
	printf "%-11s %8.3f %10.3f %18.0f %21.0f %19.0f\n" "rate $q" "$tmin" "$tmed" \
		"$(div "$SECONDS_IN" "$tmin")" "$(div "$SECONDS_IN" "$tmed")" \
		"$(div "$SECONDS_IN" "$(awk -v a="$tmin" -v b="$copy_min" 'BEGIN { print a - b }')")"
done

if [ "$GO" = 1 ]; then
	echo
	echo "Go, same input: go test -run '^\$' -bench TransformResample -benchmem -cpu 1 -benchtime 0.2s -count $COUNT ./bench"
	go test -c -o "$WORK/bench.test" ./bench
	BENCH_TRANSFORM_INPUT=$in "${pin[@]}" "$WORK/bench.test" -test.run '^$' -test.bench TransformResample \
		-test.benchmem -test.cpu 1 -test.benchtime 0.2s -test.count "$COUNT" | tee "$WORK/go.txt"
	echo
	echo "benchmark                                   x-realtime (best)   x-realtime (median)"
	awk '$1 ~ /^Benchmark/ { for (i = 2; i < NF; i++) if ($(i + 1) == "x-realtime") print $1, $i }' "$WORK/go.txt" |
		sort -k1,1 -k2,2gr | awk '
			function flush() { if (n) printf "%-43s %17.0f %21.0f\n", name, v[1], v[int((n + 1) / 2)] }
			$1 != name { flush(); name = $1; n = 0 }
			{ v[++n] = $2 }
			END { flush() }'
fi
