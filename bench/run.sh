#!/usr/bin/env bash
# Runs the catcher benchmarks (BenchmarkCatcher*) COUNT times each, keeps
# the raw output under bench/results/ (not committed) and summarises it:
# benchstat tables comparing the implementations and finalisation off/on,
# then min, median and max throughput per benchmark, the ratios and the
# targets (bench/internal/benchsummary).
#
# Environment (defaults in brackets):
#   COUNT      runs of each benchmark [6]
#   BENCHTIME  go test -benchtime per run [0.5s]; about 75 s per COUNT on 2 cores
#   BENCH      go test -bench pattern [^BenchmarkCatcher]
#   BENCHSTAT  benchstat to go run [a pinned golang.org/x/perf version]
#   INTERLEAVE 1 to run COUNT rounds of -count 1 instead of one -count COUNT,
#              so that a burst of other load on the machine hits one round of
#              every benchmark rather than every run of a few [0]
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-6}
BENCHTIME=${BENCHTIME:-0.5s}
BENCH=${BENCH:-^BenchmarkCatcher}
BENCHSTAT=${BENCHSTAT:-golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da}

dir=bench/results
mkdir -p "$dir"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw=$dir/bench-$stamp.txt
stat=$dir/bench-$stamp.benchstat.txt
summary=$dir/bench-$stamp.summary.md

INTERLEAVE=${INTERLEAVE:-0}
rounds=1
count=$COUNT
if [ "$INTERLEAVE" = 1 ]; then
	rounds=$COUNT
	count=1
fi
how=""
if [ "$rounds" -gt 1 ]; then
	how=", $rounds rounds"
fi
cmd=(go test -run '^$' -bench "$BENCH" -benchmem -count "$count" -benchtime "$BENCHTIME" -timeout 60m ./bench)

{
	echo "- nproc: $(nproc)"
	echo "- CPU: $(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "- Go: $(go version)"
	dirty=""
	if [ -n "$(git status --porcelain -- catcher)" ]; then
		dirty=" (catcher/ has uncommitted changes)"
	fi
	echo "- commit: $(git rev-parse --short HEAD)$dirty"
	echo "- command: \`${cmd[*]}\`$how"
	echo "- started: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$summary"
cat "$summary"

: >"$raw"
for ((i = 1; i <= rounds; i++)); do
	echo "running: ${cmd[*]} (round $i of $rounds)" >&2
	"${cmd[@]}" | tee -a "$raw"
done

echo "- finished: $(date -u '+%Y-%m-%d %H:%M:%S UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg)" >>"$summary"
echo >>"$summary"

{
	go run "$BENCHSTAT" -col /impl -filter '.name:(Catcher OR CatcherWarmRead)' "$raw"
	echo
	go run "$BENCHSTAT" -col /final -filter '.name:CatcherFinalise' "$raw"
} >"$stat" 2>&1 || echo "benchstat failed; see $stat" >&2
cat "$stat"

go run ./bench/internal/benchsummary "$raw" >>"$summary"
echo
cat "$summary"
echo >&2
echo "raw: $raw" >&2
echo "benchstat: $stat" >&2
echo "summary: $summary" >&2
