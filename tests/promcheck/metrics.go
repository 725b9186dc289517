package main

// The metrics and names subcommands: the metrics PromQL expressions query, against scrapes.

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Expressions is the PromQL to check, ready for the parser, and the names recording rules
// write (not looked for in scrapes).
type Expressions struct {
	Source   string
	Exprs    []LabelledExpr
	Recorded map[string]bool
}

// ExprsFromLines reads an expression file: one PromQL expression per line; blank lines and
// lines starting with # are skipped. Every $name is taken for a Grafana variable.
func ExprsFromLines(text, source string) Expressions {
	e := Expressions{Source: source, Recorded: map[string]bool{}}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e.Exprs = append(e.Exprs, LabelledExpr{Where: fmt.Sprintf("%s:%d", source, i+1), Expr: Substitute(line, Vars{})})
	}
	return e
}

func loadExprs(a metricsArgs) (Expressions, error) {
	var path string
	for _, p := range []string{a.exprsFile, a.dashboard, a.ruleFn} {
		if p != "" {
			path = p
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Expressions{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	switch {
	case a.exprsFile != "":
		return ExprsFromLines(string(data), path), nil
	case a.dashboard != "":
		d, err := ParseDashboard(data)
		if err != nil {
			return Expressions{}, fmt.Errorf("%w: %s: %v", errUsage, path, err)
		}
		e := Expressions{Source: "dashboard " + path, Recorded: map[string]bool{}}
		for _, x := range d.Exprs {
			e.Exprs = append(e.Exprs, LabelledExpr{Where: x.Where, Expr: Substitute(x.Expr, d.Vars)})
		}
		return e, nil
	default:
		c, errs := CheckPrometheusRule(data)
		if len(errs) > 0 {
			return Expressions{}, fmt.Errorf("%w: %s is not a valid PrometheusRule (run promcheck rules on it): %v", errFailed, path, errors.Join(errs...))
		}
		exprs, recorded := c.Exprs()
		return Expressions{Source: "PrometheusRule " + path, Exprs: exprs, Recorded: recorded}, nil
	}
}

// Collect parses every expression and gathers the names they query; parse errors are returned
// together.
func Collect(e Expressions) (Queried, []error) {
	q := NewQueried()
	var errs []error
	for _, x := range e.Exprs {
		if err := q.Add(x.Where, x.Expr); err != nil {
			errs = append(errs, err)
		}
	}
	return q, errs
}

func runMetrics(cmd string, args []string, stdout, stderr io.Writer) error {
	a, err := parseMetricsArgs(cmd, args, stderr)
	if err != nil {
		return err
	}
	e, err := loadExprs(a)
	if err != nil {
		return err
	}
	q, errs := Collect(e)
	if len(errs) > 0 {
		for _, err := range errs {
			fmt.Fprintln(stderr, err)
		}
		return fmt.Errorf("%w: %d of %d expression(s) of %s do not parse", errFailed, len(errs), len(e.Exprs), e.Source)
	}
	if len(e.Exprs) == 0 {
		return fmt.Errorf("%w: %s has no PromQL expression", errFailed, e.Source)
	}
	if cmd == "names" {
		for _, n := range q.SortedNames() {
			fmt.Fprintln(stdout, n)
		}
		return nil
	}
	exported, described, err := loadScrapes(a.scrapes)
	if err != nil {
		return err
	}
	m, err := FindMissing(q, exported, e.Recorded)
	if err != nil {
		return fmt.Errorf("%w: %v", errFailed, err)
	}
	return reportMissing(stdout, stderr, e, q, m, described)
}

// loadScrapes parses every scrape file; exported is the union of their series names (declared
// or sampled), described says per file what it held.
func loadScrapes(files []string) (exported map[string]bool, described []string, err error) {
	exported = map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		s, err := ParseScrape(data)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: scrape %s: %v", errFailed, f, err)
		}
		declaredOnly := 0
		for n, sampled := range s.Series {
			exported[n] = true
			if !sampled {
				declaredOnly++
			}
		}
		described = append(described, fmt.Sprintf("%s (%s, %d series names, %d declared without samples)", f, s.Format, len(s.Series), declaredOnly))
	}
	return exported, described, nil
}

func reportMissing(stdout, stderr io.Writer, e Expressions, q Queried, m Missing, scrapes []string) error {
	total := len(q.Names) + len(q.Patterns)
	fmt.Fprintf(stdout, "%d metric(s) queried by %d expression(s) of %s; scrapes: %s\n", total, len(e.Exprs), e.Source, strings.Join(scrapes, "; "))
	if len(m.Exempt) > 0 {
		fmt.Fprintf(stdout, "not looked for (Prometheus or a recording rule writes them): %s\n", strings.Join(m.Exempt, " "))
	}
	if len(m.Names)+len(m.Patterns) == 0 {
		fmt.Fprintf(stdout, "SUCCESS: every queried metric is exported\n")
		return nil
	}
	for _, n := range m.Names {
		fmt.Fprintf(stderr, "MISSING %s, queried by: %s\n", n, strings.Join(sortedCopy(q.Names[n]), "; "))
	}
	for _, p := range m.Patterns {
		fmt.Fprintf(stderr, "MISSING {__name__=~%q} matches no exported name, queried by: %s\n", p, strings.Join(sortedCopy(q.Patterns[p]), "; "))
	}
	missing := append(append([]string{}, m.Names...), m.Patterns...)
	return fmt.Errorf("%w: %d of %d queried metric(s) are exported by no scrape: %s", errFailed, len(missing), total, strings.Join(missing, " "))
}

func sortedCopy(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}
