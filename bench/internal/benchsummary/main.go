// Command benchsummary summarises the output of the bench package's catcher
// benchmarks (go test -bench, any -count; other benchmarks are ignored) as
// Markdown: the minimum, median and maximum throughput of each benchmark
// over its runs, the ratios of the catcher to the naive buffer and to the
// bytes.Reader limit, the effect of finalisation, and whether each target is
// met.
//
// Usage:
//
//	go run ./bench/internal/benchsummary [file]
//
// It reads standard input when no file is given.
package main

import (
	"bufio"
	"fmt"
	"io"
	"log"
	"math"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// result is every run of one benchmark.
type result struct {
	name   string    // full name without the GOMAXPROCS suffix
	mbps   []float64 // MB/s (10^6 bytes per second) of each run
	allocs []float64 // allocs/op of each run
}

func (r *result) gbps() (lo, med, hi float64) {
	s := slices.Sorted(slices.Values(r.mbps))
	n := len(s)
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return s[0] / 1000, med / 1000, s[n-1] / 1000
}

func (r *result) maxAllocs() float64 {
	if len(r.allocs) == 0 {
		return math.NaN()
	}
	return slices.Max(r.allocs)
}

// procSuffix is the -GOMAXPROCS suffix go test adds to a benchmark's name.
var procSuffix = regexp.MustCompile(`-\d+$`)

func parse(in io.Reader) ([]*result, error) {
	var order []*result
	byName := map[string]*result{}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // not a result line
		}
		name := procSuffix.ReplaceAllString(f[0], "")
		if !strings.HasPrefix(name, "BenchmarkCatcher") {
			continue
		}
		r := byName[name]
		if r == nil {
			r = &result{name: name}
			byName[name] = r
			order = append(order, r)
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%q: %v", sc.Text(), err)
			}
			switch f[i+1] {
			case "MB/s":
				r.mbps = append(r.mbps, v)
			case "allocs/op":
				r.allocs = append(r.allocs, v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	// Benchmarks without b.SetBytes have no throughput to summarise.
	order = slices.DeleteFunc(order, func(r *result) bool { return len(r.mbps) == 0 })
	return order, nil
}

// summary looks results up by name.
type summary struct {
	results []*result
	byName  map[string]*result
}

func (s *summary) get(name string) *result { return s.byName[name] }

// median returns the median GB/s of the named benchmark, or NaN.
func (s *summary) median(name string) float64 {
	r := s.get(name)
	if r == nil {
		return math.NaN()
	}
	_, med, _ := r.gbps()
	return med
}

// ratio returns the ratio of the medians of two benchmarks.
func (s *summary) ratio(num, den string) float64 { return s.median(num) / s.median(den) }

// withImpl replaces the impl= element of a name.
func withImpl(name, impl string) string {
	i := strings.LastIndex(name, "/impl=")
	return name[:i] + "/impl=" + impl
}

func main() {
	log.SetFlags(0)
	in := io.Reader(os.Stdin)
	if len(os.Args) > 1 {
		f, err := os.Open(os.Args[1])
		if err != nil {
			log.Fatal(err)
		}
		defer f.Close()
		in = f
	}
	results, err := parse(in)
	if err != nil {
		log.Fatal(err)
	}
	if len(results) == 0 {
		log.Fatal("benchsummary: no BenchmarkCatcher results with MB/s")
	}
	s := &summary{results: results, byName: map[string]*result{}}
	for _, r := range results {
		s.byName[r.name] = r
	}
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	s.throughput(w)
	s.byScenario(w)
	s.ratios(w)
	s.finalisation(w)
	s.targets(w)
}

func (s *summary) throughput(w io.Writer) {
	fmt.Fprintln(w, "### Throughput over runs (GB/s = 10^9 bytes/s)")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| benchmark | runs | min | median | max | min/median | allocs/op |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range s.results {
		lo, med, hi := r.gbps()
		fmt.Fprintf(w, "| %s | %d | %.2f | %.2f | %.2f | %.2f | %s |\n",
			strings.TrimPrefix(r.name, "Benchmark"), len(r.mbps), lo, med, hi, lo/med, fmtAllocs(r.maxAllocs()))
	}
	fmt.Fprintln(w)
}

// byScenario prints the benchmarks that compare implementations (named
// .../impl=X) one scenario a row, the implementations side by side.
func (s *summary) byScenario(w io.Writer) {
	var impls, scenarios []string
	for _, r := range s.results {
		i := strings.LastIndex(r.name, "/impl=")
		if i < 0 {
			continue
		}
		if scen := r.name[:i]; !slices.Contains(scenarios, scen) {
			scenarios = append(scenarios, scen)
		}
		if im := r.name[i+len("/impl="):]; !slices.Contains(impls, im) {
			impls = append(impls, im)
		}
	}
	if len(scenarios) == 0 {
		return
	}
	fmt.Fprintln(w, "### By scenario: min / median / max GB/s, and allocs/op")
	fmt.Fprintln(w)
	fmt.Fprint(w, "| scenario |")
	for _, im := range impls {
		fmt.Fprintf(w, " %s | allocs/op |", im)
	}
	fmt.Fprint(w, "\n| --- |")
	for range impls {
		fmt.Fprint(w, " ---: | ---: |")
	}
	fmt.Fprintln(w)
	for _, scen := range scenarios {
		fmt.Fprintf(w, "| %s |", strings.TrimPrefix(scen, "Benchmark"))
		for _, im := range impls {
			r := s.get(scen + "/impl=" + im)
			if r == nil {
				fmt.Fprint(w, " - | - |")
				continue
			}
			lo, med, hi := r.gbps()
			fmt.Fprintf(w, " %.1f / %.1f / %.1f | %s |", lo, med, hi, fmtAllocs(r.maxAllocs()))
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
}

func fmtAllocs(a float64) string {
	if math.IsNaN(a) {
		return "-"
	}
	return strconv.FormatFloat(a, 'f', -1, 64)
}

// ratios prints, for each scenario of BenchmarkCatcher, the catcher against
// the limit and the naive buffer.
func (s *summary) ratios(w io.Writer) {
	var rows strings.Builder
	for _, r := range s.results {
		if !strings.HasPrefix(r.name, "BenchmarkCatcher/") || !strings.HasSuffix(r.name, "/impl=catcher") {
			continue
		}
		limit := withImpl(r.name, "bytesreader")
		lo, _, _ := r.gbps()
		fmt.Fprintf(&rows, "| %s | %.2f | %.2f | %.2f |\n",
			strings.TrimSuffix(strings.TrimPrefix(r.name, "Benchmark"), "/impl=catcher"),
			s.ratio(r.name, limit), lo/s.median(limit), s.ratio(r.name, withImpl(r.name, "naive")))
	}
	section(w, "Catcher against the limit and the naive buffer (ratios of medians)",
		"| scenario | catcher / bytesreader | slowest catcher run / median bytesreader | catcher / naive |\n| --- | ---: | ---: | ---: |",
		rows.String())
}

// section prints a Markdown table under a heading, unless it has no rows.
func section(w io.Writer, title, header, rows string) {
	if rows == "" {
		return
	}
	fmt.Fprintf(w, "### %s\n\n%s\n%s\n", title, header, rows)
}

// finalisation prints, for each finalisation benchmark with final=on, its
// median against the same with final=off.
func (s *summary) finalisation(w io.Writer) {
	var rows strings.Builder
	for _, r := range s.results {
		if !strings.HasSuffix(r.name, "/final=on") {
			continue
		}
		off := strings.TrimSuffix(r.name, "on") + "off"
		fmt.Fprintf(&rows, "| %s | %.2f | %.2f | %.2f |\n",
			strings.TrimSuffix(strings.TrimPrefix(r.name, "Benchmark"), "/final=on"),
			s.median(off), s.median(r.name), s.ratio(r.name, off))
	}
	section(w, "Finalisation (median GB/s)",
		"| benchmark | final=off | final=on | on / off |\n| --- | ---: | ---: | ---: |",
		rows.String())
}

// target is one stated target: a ratio of medians and its bound.
type target struct {
	what     string
	num, den string
	min      float64
}

func (s *summary) targets(w io.Writer) {
	fmt.Fprintln(w, "### Targets")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| target | measured | met |")
	fmt.Fprintln(w, "| --- | ---: | --- |")
	var ts []target
	for _, size := range []string{"1KiB", "32KiB"} {
		cold := "BenchmarkCatcher/cold/readers=64/read=" + size + "/impl="
		ts = append(ts, target{"cold, 64 readers, " + size + ": catcher >= 0.5 x bytesreader", cold + "catcher", cold + "bytesreader", 0.5})
		if size == "1KiB" {
			ts = append(ts, target{"cold, 64 readers, 1KiB: catcher >= 3 x naive", cold + "catcher", cold + "naive", 3})
		}
	}
	for _, r := range s.results {
		if strings.HasPrefix(r.name, "BenchmarkCatcher/prefilled/") && strings.HasSuffix(r.name, "/impl=catcher") {
			scen := strings.TrimSuffix(strings.TrimPrefix(r.name, "BenchmarkCatcher/prefilled/"), "/impl=catcher")
			ts = append(ts, target{"pre-filled, " + scen + ": catcher >= 0.9 x bytesreader", r.name, withImpl(r.name, "bytesreader"), 0.9})
		}
	}
	for _, t := range ts {
		v := s.ratio(t.num, t.den)
		if math.IsNaN(v) {
			fmt.Fprintf(w, "| %s | not run | - |\n", t.what)
			continue
		}
		fmt.Fprintf(w, "| %s | %.2f | %s |\n", t.what, v, yes(v >= t.min))
	}

	// The slowest run of every catcher benchmark at least half its median.
	var slow []string
	n := 0
	worst, worstName := math.Inf(1), ""
	for _, r := range s.results {
		if !isCatcher(r.name) {
			continue
		}
		n++
		lo, med, _ := r.gbps()
		if lo/med < worst {
			worst, worstName = lo/med, r.name
		}
		if lo < med/2 {
			slow = append(slow, fmt.Sprintf("%s (%.2f)", strings.TrimPrefix(r.name, "Benchmark"), lo/med))
		}
	}
	fmt.Fprintf(w, "| slowest run >= 0.5 x median, all %d catcher benchmarks | worst %.2f (%s) | %s |\n",
		n, worst, strings.TrimPrefix(worstName, "Benchmark"), yes(len(slow) == 0))

	// No allocation per Read of a warm handle.
	for _, r := range s.results {
		if strings.HasPrefix(r.name, "BenchmarkCatcherWarmRead/") && strings.HasSuffix(r.name, "/impl=catcher") {
			a := r.maxAllocs()
			fmt.Fprintf(w, "| %s: 0 allocs per warm Read | %s (most in any run) | %s |\n",
				strings.TrimPrefix(r.name, "Benchmark"), fmtAllocs(a), yes(a == 0))
		}
	}
	fmt.Fprintln(w)
	if len(slow) > 0 {
		fmt.Fprintf(w, "Catcher benchmarks whose slowest run is under half the median (min/median): %s.\n\n", strings.Join(slow, ", "))
	}
}

// isCatcher reports whether the named benchmark measures the catcher.
func isCatcher(name string) bool {
	return strings.HasSuffix(name, "/impl=catcher") || strings.HasPrefix(name, "BenchmarkCatcherFinalise/")
}

func yes(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}
