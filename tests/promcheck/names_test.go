package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestNamesFromTheAST(t *testing.T) {
	q := NewQueried()
	exprs := []string{
		`histogram_quantile(0.99, sum by (le) (rate(rocketmq_rpc_latency_bucket{request_code=~"send_message.*"}[5m])))`,
		`rocketmq_group_diff{rmq_cluster="demo"} > 10000 and delta(rocketmq_group_diff{rmq_cluster="demo"}[10m]) > 0`,
		`{__name__="rmq_broker_ready", broker="a"} == 0`,
		`count({__name__=~"rmq_operator_.*", __name__!="rmq_operator_leader"})`,
		`sum by (broker) (rocketmq_brokeruntime_producer_connections) or on() vector(0)`,
		`max_over_time(rate(rocketmq_messages_in_total[1m])[1h:5m] offset 1d)`,
		`sum by (grafana_var_label) (grafana_var_metric)`,
	}
	for i, e := range exprs {
		if err := q.Add(string(rune('a'+i)), e); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"rmq_broker_ready", "rocketmq_brokeruntime_producer_connections", "rocketmq_group_diff",
		"rocketmq_messages_in_total", "rocketmq_rpc_latency_bucket"}
	if got := q.SortedNames(); !reflect.DeepEqual(got, want) {
		t.Errorf("names %v, want %v", got, want)
	}
	if got := sortedKeys(q.Patterns); !reflect.DeepEqual(got, []string{"rmq_operator_.*"}) {
		t.Errorf("patterns %v", got)
	}
	if got := q.Names["rocketmq_group_diff"]; !reflect.DeepEqual(got, []string{"b"}) {
		t.Errorf("rocketmq_group_diff queried by %v, want [b] once", got)
	}
}

func TestAParseErrorNamesWhereAndWhat(t *testing.T) {
	q := NewQueried()
	err := q.Add(`panel "p" target A`, `sum(rate(rocketmq_messages_in_total[5m])`)
	if err == nil || !strings.Contains(err.Error(), `panel "p" target A`) || !strings.Contains(err.Error(), "does not parse") {
		t.Fatalf("want a located parse error, got %v", err)
	}
	if len(q.Names) != 0 {
		t.Errorf("a failed expression recorded names: %v", q.Names)
	}
}

func TestFindMissing(t *testing.T) {
	q := NewQueried()
	for _, e := range []string{`up == 0`, `rate(a_total[5m])`, `b`, `c:recorded`, `{__name__=~"a_.*"}`, `{__name__=~"zz.*"}`} {
		if err := q.Add("e", e); err != nil {
			t.Fatal(err)
		}
	}
	m, err := FindMissing(q, map[string]bool{"a_total": true}, map[string]bool{"c:recorded": true})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Names, []string{"b"}) || !reflect.DeepEqual(m.Patterns, []string{"zz.*"}) ||
		!reflect.DeepEqual(m.Exempt, []string{"c:recorded", "up"}) {
		t.Errorf("missing %+v", m)
	}
}
