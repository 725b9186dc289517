package main

// The metric names a PromQL expression queries, read from the AST of Prometheus' own parser.

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// PromParser is the PromQL parser with promtool's default options.
var PromParser = parser.NewParser(parser.Options{})

// Queried is what a set of expressions asks for: metric names (from `name{...}` and
// `{__name__="name"}`) and name patterns (`{__name__=~"re"}`), each with the expressions using it.
type Queried struct {
	Names    map[string][]string
	Patterns map[string][]string
}

// NewQueried is an empty Queried.
func NewQueried() Queried {
	return Queried{Names: map[string][]string{}, Patterns: map[string][]string{}}
}

// Add parses expr (after Grafana substitution, if any) and records the names it queries under
// label where. A parse error is returned with where and the expression; nothing is recorded.
// Negative name matchers (`__name__!=`, `!~`) select by exclusion and are not recorded, nor are
// Grafana stand-ins (grafana_var_*).
func (q Queried) Add(where, expr string) error {
	ast, err := PromParser.ParseExpr(expr)
	if err != nil {
		return fmt.Errorf("%s: PromQL does not parse: %w\n  expression: %s", where, err, expr)
	}
	parser.Inspect(ast, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		if vs.Name != "" {
			q.record(q.Names, vs.Name, where)
		}
		for _, m := range vs.LabelMatchers {
			if m.Name != labels.MetricName {
				continue
			}
			switch m.Type {
			case labels.MatchEqual:
				q.record(q.Names, m.Value, where)
			case labels.MatchRegexp:
				q.record(q.Patterns, m.Value, where)
			}
		}
		return nil
	})
	return nil
}

func (q Queried) record(into map[string][]string, name, where string) {
	if strings.HasPrefix(name, GrafanaVarPrefix) {
		return
	}
	for _, w := range into[name] {
		if w == where {
			return
		}
	}
	into[name] = append(into[name], where)
}

// SortedNames is the queried metric names in order.
func (q Queried) SortedNames() []string {
	return sortedKeys(q.Names)
}

func sortedKeys(m map[string][]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// PrometheusMade lists the series Prometheus writes itself (per scrape target, and for alerts):
// no exporter exports them, so they are not looked for in scrapes.
var PrometheusMade = map[string]bool{
	"up": true, "scrape_duration_seconds": true, "scrape_samples_scraped": true,
	"scrape_samples_post_metric_relabeling": true, "scrape_series_added": true,
	"ALERTS": true, "ALERTS_FOR_STATE": true,
}

// Missing is the outcome of checking Queried against what scrapes export.
type Missing struct {
	Names    []string // queried names no scrape exports
	Patterns []string // __name__ regexes that match no exported name
	Exempt   []string // queried names Prometheus or a recording rule makes
}

// FindMissing checks every queried name against the exported series names. Names in
// PrometheusMade or in recorded (names of recording rules) are exempt. A pattern must match
// (fully anchored, as PromQL matches) at least one exported name.
func FindMissing(q Queried, exported map[string]bool, recorded map[string]bool) (Missing, error) {
	var m Missing
	for _, name := range q.SortedNames() {
		switch {
		case PrometheusMade[name] || recorded[name]:
			m.Exempt = append(m.Exempt, name)
		case !exported[name]:
			m.Names = append(m.Names, name)
		}
	}
	for _, pat := range sortedKeys(q.Patterns) {
		re, err := regexp.Compile("^(?:" + pat + ")$")
		if err != nil {
			return Missing{}, fmt.Errorf("__name__=~%q is not a valid regex: %w", pat, err)
		}
		found := false
		for name := range exported {
			if re.MatchString(name) {
				found = true
				break
			}
		}
		if !found {
			m.Patterns = append(m.Patterns, pat)
		}
	}
	return m, nil
}
