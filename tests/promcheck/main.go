// Command promcheck checks rmq's Prometheus objects with Prometheus' own code (a promtool for
// the Kubernetes e2e suite, tests/k8s-e2e/monitoring.sh):
//
//	promcheck rules FILE.json        a PrometheusRule (kubectl -o json): .spec as promtool check rules
//	promcheck podmonitor FILE.json   a PodMonitor: strict monitoring.coreos.com/v1 decoding, selector, endpoints
//	promcheck metrics --scrape FILE [--scrape FILE...] (--exprs-file F | --dashboard D.json | --rule R.json)
//	                                 every metric the PromQL expressions query is exported by a scrape
//	promcheck names (--exprs-file F | --dashboard D.json | --rule R.json)
//	                                 the metric names the expressions query, one per line
//
// Exit status: 0 passed, 1 the check failed (what is wrong on stderr), 2 bad usage or input.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// errUsage marks errors of the command line or of unreadable input (exit status 2).
var errUsage = errors.New("usage")

// errFailed marks a check that ran and found problems (exit status 1).
var errFailed = errors.New("check failed")

func main() {
	err := run(os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil:
		return
	case errors.Is(err, errFailed):
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "promcheck:", err)
		os.Exit(2)
	}
}

const usage = `usage: promcheck rules FILE.json | podmonitor FILE.json |
       metrics --scrape FILE [--scrape FILE...] (--exprs-file F | --dashboard D.json | --rule R.json) |
       names (--exprs-file F | --dashboard D.json | --rule R.json)`

const helpText = `
rules       the object's .spec as the rule file Prometheus loads, checked as promtool check rules
            --lint-fatal does: rulefmt (unknown fields refused), every expr parsed, for/keep_firing_for
            durations, label names and values, label and annotation templates, duplicate rules.
podmonitor  strict decoding into monitoring.coreos.com/v1 PodMonitor (unknown fields are errors),
            a valid non-empty selector, endpoints with a port and a path, durations, relabel regexes.
metrics     metric names from the PromQL AST (name{...}, {__name__="x"}; {__name__=~"re"} must match
            an exported name) against the series names of the scrapes (expfmt; OpenMetrics if the
            file ends with "# EOF"): counters as stored (x_total), histograms x_bucket/_sum/_count,
            summaries x, x_sum, x_count; a family with a # TYPE line but no samples counts.
            Not looked for: up, scrape_* and ALERTS* (Prometheus writes them), recording rules' names.
Grafana variables are replaced before parsing: $__interval, $__rate_interval, $__range -> 5m (their
_ms/_s forms -> numbers, $__from/$__to -> a timestamp); a variable of type interval -> 5m; any
other variable inside a string -> .+, inside [...] or after offset -> 5m, elsewhere -> the name
grafana_var_<name> (not looked for). A dashboard's undefined variables stay, as Grafana leaves
them; in an --exprs-file every $name is a variable.`

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: no subcommand\n%s", errUsage, usage)
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprintln(stdout, usage+"\n"+helpText)
		return nil
	case "rules", "podmonitor":
		if len(args) != 2 {
			return fmt.Errorf("%w: %s takes one file (the object as kubectl get -o json prints it)\n%s", errUsage, args[0], usage)
		}
		data, err := os.ReadFile(args[1])
		if err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		if args[0] == "rules" {
			c, errs := CheckPrometheusRule(data)
			if len(errs) > 0 && c.RuleFile != nil {
				fmt.Fprintf(stderr, "the rule file checked (.spec as YAML; line:column below refer to it):\n%s", c.RuleFile)
			}
			return report(stdout, stderr, args[1], c.Summary, errs)
		}
		c, errs := CheckPodMonitor(data)
		return report(stdout, stderr, args[1], c.Summary, errs)
	case "metrics", "names":
		return runMetrics(args[0], args[1:], stdout, stderr)
	default:
		return fmt.Errorf("%w: unknown subcommand %q\n%s", errUsage, args[0], usage)
	}
}

func report(stdout, stderr io.Writer, file string, summary func() string, errs []error) error {
	if len(errs) == 0 {
		fmt.Fprint(stdout, summary())
		return nil
	}
	fmt.Fprintf(stderr, "%s: FAILED:\n", file)
	for _, e := range errs {
		fmt.Fprintf(stderr, "  %v\n", e)
	}
	return fmt.Errorf("%w: %s: %d problem(s), the first: %v", errFailed, file, len(errs), errs[0])
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

type metricsArgs struct {
	scrapes                      multiFlag
	exprsFile, dashboard, ruleFn string
}

func parseMetricsArgs(cmd string, args []string, stderr io.Writer) (metricsArgs, error) {
	var a metricsArgs
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&a.scrapes, "scrape", "a /metrics scrape (OpenMetrics or text format); repeatable")
	fs.StringVar(&a.exprsFile, "exprs-file", "", "PromQL expressions, one per line (Grafana variables substituted)")
	fs.StringVar(&a.dashboard, "dashboard", "", "a Grafana dashboard JSON")
	fs.StringVar(&a.ruleFn, "rule", "", "a PrometheusRule object (kubectl -o json)")
	if err := fs.Parse(args); err != nil {
		return a, fmt.Errorf("%w: %v", errUsage, err)
	}
	sources := 0
	for _, s := range []string{a.exprsFile, a.dashboard, a.ruleFn} {
		if s != "" {
			sources++
		}
	}
	if sources != 1 || fs.NArg() != 0 {
		return a, fmt.Errorf("%w: give exactly one of --exprs-file, --dashboard, --rule (and no other arguments)\n%s", errUsage, usage)
	}
	if cmd == "metrics" && len(a.scrapes) == 0 {
		return a, fmt.Errorf("%w: metrics needs at least one --scrape FILE\n%s", errUsage, usage)
	}
	return a, nil
}
