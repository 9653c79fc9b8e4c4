// Package bench holds the project's benchmarks, each beside a naive design
// or an external reference measured in the same run, with tests that check
// the benchmarked code once for correctness. It has no API: everything is in
// its test files. README.md records, subject by subject, the machine, the
// command and the results; run.sh runs the catcher's benchmarks and
// summarises them (with bench/internal/benchsummary).
package bench
