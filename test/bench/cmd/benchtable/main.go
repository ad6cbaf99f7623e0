// Command benchtable turns `go test -bench` output (on stdin) into the one Markdown
// table `make bench` prints: benchmark | figure | anchor/physical limit | notes. It
// knows which metrics make each benchmark's figure and what to compare it with;
// a benchmark it does not know is printed with all its metrics. Skipped and failed
// benchmarks get a row saying so, with the reason.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	rows, err := parse(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchtable:", err)
		os.Exit(1)
	}
	write(os.Stdout, rows)
}

// result is one benchmark line or a skip/failure notice.
type result struct {
	name    string             // without the -GOMAXPROCS suffix
	metrics map[string]float64 // unit → value (ns/op included)
	order   []string           // units in output order
	skipped string             // reason, when skipped
	failed  string             // first message, when failed
}

// parse reads go test output. A benchmark line is "BenchmarkX-2  N  v unit  v unit…";
// "--- SKIP: BenchmarkX" and "--- FAIL: BenchmarkX" are followed by indented messages.
func parse(r io.Reader) ([]result, error) {
	var out []result
	var pending *result // a SKIP/FAIL waiting for its message line
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		trim := strings.TrimSpace(line)
		if pending != nil && strings.HasPrefix(line, "    ") && trim != "" {
			msg := trim
			if i := strings.Index(msg, ": "); i > 0 && strings.Contains(msg[:i], ".go:") {
				msg = msg[i+2:]
			}
			if pending.skipped == "?" {
				pending.skipped = msg
			} else if pending.failed == "?" {
				pending.failed = msg
			}
			continue
		}
		if pending != nil {
			out = append(out, *pending)
			pending = nil
		}
		for _, kind := range []string{"--- SKIP: ", "--- FAIL: "} {
			if rest, ok := strings.CutPrefix(trim, kind); ok && strings.HasPrefix(rest, "Benchmark") {
				res := result{name: stripProcs(strings.Fields(rest)[0])}
				if kind == "--- SKIP: " {
					res.skipped = "?"
				} else {
					res.failed = "?"
				}
				pending = &res
			}
		}
		if pending != nil || !strings.HasPrefix(trim, "Benchmark") {
			continue
		}
		f := strings.Fields(trim)
		if len(f) < 4 || len(f)%2 != 0 {
			continue // a benchmark's name printed alone, before its logs
		}
		res := result{name: stripProcs(f[0]), metrics: map[string]float64{}}
		for i := 2; i+1 < len(f); i += 2 {
			var v float64
			if _, err := fmt.Sscan(f[i], &v); err != nil {
				continue
			}
			res.metrics[f[i+1]] = v
			res.order = append(res.order, f[i+1])
		}
		out = append(out, res)
	}
	if pending != nil {
		out = append(out, *pending)
	}
	return out, sc.Err()
}

// stripProcs removes the "-2" GOMAXPROCS suffix of a benchmark name.
func stripProcs(name string) string {
	if i := strings.LastIndex(name, "-"); i > 0 {
		if _, err := fmt.Sscan(name[i+1:], new(int)); err == nil {
			return name[:i]
		}
	}
	return name
}

func write(w io.Writer, rows []result) {
	fmt.Fprintln(w, "| benchmark | figure | anchor / physical limit | notes |")
	fmt.Fprintln(w, "| --- | --- | --- | --- |")
	for _, r := range rows {
		for _, line := range render(r) {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", line.title, line.figure, line.anchor, line.notes)
		}
	}
}
