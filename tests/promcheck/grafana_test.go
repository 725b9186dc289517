package main

import (
	"os"
	"strings"
	"testing"
)

func TestSubstituteBuiltinsAndVariablesByPosition(t *testing.T) {
	vars := Vars{Defined: map[string]bool{"cluster": true, "label": true, "shift": true, "res": true},
		Intervals: map[string]bool{"res": true}}
	cases := []struct{ in, want string }{
		{`rate(x[$__rate_interval])`, `rate(x[5m])`},
		{`rate(x[${__interval}])`, `rate(x[5m])`},
		{`max_over_time(x[1h:$__interval])`, `max_over_time(x[1h:5m])`},
		{`x / $__range_s`, `x / 300`},
		{`x @ ${__to:date:seconds}`, `x @ 1700000000`},
		{`x{rmq_cluster=~"$cluster"}`, `x{rmq_cluster=~".+"}`},
		{`x{rmq_cluster="${cluster:regex}"}`, `x{rmq_cluster=".+"}`},
		{`x{rmq_cluster='[[cluster]]'}`, `x{rmq_cluster='.+'}`},
		{`sum by ($label) (x)`, `sum by (grafana_var_label) (x)`},
		{`rate(x[$cluster])`, `rate(x[5m])`},
		{`x offset $shift`, `x offset 5m`},
		{`rate(x[$res]) > $res`, `rate(x[5m]) > 5m`},
		// not variables: a label_replace back-reference, an escaped quote, a regex end anchor,
		// a POSIX class; an undefined name is left as Grafana leaves it
		{`label_replace(x, "a", "$1", "b", "(.*)")`, `label_replace(x, "a", "$1", "b", "(.*)")`},
		{`x{a="q\"$cluster"}`, `x{a="q\".+"}`},
		{`x{a=~"b$"}`, `x{a=~"b$"}`},
		{`x{a=~"[[:alpha:]]"}`, `x{a=~"[[:alpha:]]"}`},
		{`x > $undefined`, `x > $undefined`},
	}
	for _, c := range cases {
		if got := Substitute(c.in, vars); got != c.want {
			t.Errorf("Substitute(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestSubstitutedExpressionsParse(t *testing.T) {
	vars := Vars{Defined: map[string]bool{"cluster": true, "label": true}}
	for _, in := range []string{
		`sum by ($label) (rate(rocketmq_messages_in_total{rmq_cluster=~"$cluster"}[$__rate_interval]))`,
		`histogram_quantile(0.99, sum by (le) (rate(rocketmq_rpc_latency_bucket{rmq_cluster="$cluster"}[$__interval])))`,
		`rocketmq_group_diff offset $__range`,
	} {
		q := NewQueried()
		if err := q.Add("t", Substitute(in, vars)); err != nil {
			t.Errorf("%s: %v", in, err)
		}
	}
}

// A variable the dashboard does not define stays, and Prometheus' parser refuses the query.
func TestUndefinedVariableOutsideAStringFailsToParse(t *testing.T) {
	q := NewQueried()
	err := q.Add("panel", Substitute(`rate(x[$window])`, Vars{Defined: map[string]bool{}}))
	if err == nil || !strings.Contains(err.Error(), "does not parse") {
		t.Fatalf("want a parse error, got %v", err)
	}
}

func TestParseDashboardReadsNestedPanelsAndVariables(t *testing.T) {
	d, err := ParseDashboard([]byte(`{
	  "panels": [
	    {"title": "a", "targets": [{"refId": "A", "expr": "x"}, {"refId": "B", "rawSql": "select 1"}]},
	    {"title": "row", "type": "row", "panels": [{"title": "b", "targets": [{"refId": "A", "expr": "y[$win]"}]}]}
	  ],
	  "rows": [{"panels": [{"title": "old", "targets": [{"refId": "A", "expr": "z"}]}]}],
	  "templating": {"list": [{"name": "win", "type": "interval"}, {"name": "cluster", "type": "query"}]}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range d.Exprs {
		got = append(got, Substitute(e.Expr, d.Vars))
	}
	if strings.Join(got, ";") != "x;y[5m];z" {
		t.Errorf("expressions %v", got)
	}
	if !d.Vars.Defined["cluster"] || !d.Vars.Intervals["win"] {
		t.Errorf("variables %+v", d.Vars)
	}
}

func TestTheChartsDashboardParses(t *testing.T) {
	data, err := os.ReadFile("../../charts/rmq-operator/dashboards/rmq.json")
	if err != nil {
		t.Skip("the chart's dashboard is not beside this module:", err)
	}
	d, err := ParseDashboard(data)
	if err != nil {
		t.Fatal(err)
	}
	q := NewQueried()
	for _, e := range d.Exprs {
		if err := q.Add(e.Where, Substitute(e.Expr, d.Vars)); err != nil {
			t.Error(err)
		}
	}
	if len(d.Exprs) < 10 || len(q.Names) < 10 {
		t.Errorf("only %d expressions, %d names", len(d.Exprs), len(q.Names))
	}
}
