#!/usr/bin/env bash
# Runs the README's test command (the one CI runs) while two CPU burners
# keep both cores of a 2-core machine busy, to show that the tests assert
# correctness, not speed. Prints the wall time and exits with the test
# command's status. The burners are killed, by their PIDs, on every exit.
set -uo pipefail
cd "$(dirname "$0")/.."

burners=()
tests=
stop_burners() {
	for pid in "${burners[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	burners=()
}
# On Ctrl-C or kill, the tests are stopped too (by their PID), then the
# burners (by the EXIT trap).
interrupted() {
	if [ -n "$tests" ]; then
		kill "$tests" 2>/dev/null
		wait "$tests" 2>/dev/null
	fi
	exit "$1"
}
trap stop_burners EXIT
trap 'interrupted 130' INT
trap 'interrupted 143' TERM

for _ in 1 2; do
	yes >/dev/null &
	burners+=("$!")
done
echo "burners: ${burners[*]}"

start=$(date +%s)
# In the background and waited for, so that a signal is handled at once.
# GOFLAGS=-count=1: every test runs again, none is taken from the test
# cache, so that each run of this script proves something.
GOFLAGS="${GOFLAGS:+$GOFLAGS }-count=1" go test -race -short ./... &
tests=$!
wait "$tests"
status=$?
tests=
end=$(date +%s)
echo "go test -race -short ./... under load: exit $status in $((end - start)) s"
exit "$status"
