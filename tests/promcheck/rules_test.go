package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func readFixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestTheOperatorsRuleIsValid(t *testing.T) {
	c, errs := CheckPrometheusRule(readFixture(t, "prometheusrule.json"))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if s := c.Summary(); !strings.Contains(s, "1 group(s), 6 rule(s)") || !strings.Contains(s, "RmqScrapeDown (for 5m)") {
		t.Errorf("summary: %s", s)
	}
}

func TestBrokenRulesAreRefused(t *testing.T) {
	good := readFixture(t, "prometheusrule.json")
	cases := map[string]struct{ from, to, want string }{
		"expr":       {`"rmq_broker_ready{rmq_cluster=\"demo\"} == 0"`, `"rmq_broker_ready{rmq_cluster=\"demo\"} =="`, "could not parse expression"},
		"for":        {`"for": "2m"`, `"for": "2 minutes"`, `unknown unit " minutes" in duration "2 minutes"`},
		"template":   {`{{ $labels.pod }}'s`, `{{ $labels.pod }'s`, "annotation \"summary\""},
		"label name": {`"severity": "critical"`, `"__name__": "critical"`, "invalid label name"},
		"unknown":    {`"for": "5m"`, `"for": "5m", "fore": "5m"`, "unknown field"},
		"no alert":   {`"alert": "RmqScrapeDown",`, ``, "one of 'record' or 'alert' must be set"},
		"duplicate":  {`"RmqNoNameserverRegistration"`, `"RmqBrokerNotReady"`, "duplicate rules"},
	}
	for name, c := range cases {
		bad := bytes.Replace(good, []byte(c.from), []byte(c.to), 1)
		if bytes.Equal(bad, good) {
			t.Fatalf("%s: the fixture has no %s", name, c.from)
		}
		_, errs := CheckPrometheusRule(bad)
		if len(errs) == 0 || !strings.Contains(joinErrs(errs), c.want) {
			t.Errorf("%s: want an error with %q, got %v", name, c.want, errs)
		}
	}
}

func joinErrs(errs []error) string {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e.Error() + "\n")
	}
	return b.String()
}

func TestThePodMonitorDecodesStrictly(t *testing.T) {
	good := readFixture(t, "podmonitor.json")
	c, errs := CheckPodMonitor(good)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if s := c.Summary(); !strings.Contains(s, "port http path /metrics interval 30s, 3 relabeling(s)") {
		t.Errorf("summary: %s", s)
	}
	cases := map[string]struct{ from, to, want string }{
		"unknown field": {`"path": "/metrics"`, `"path": "/metrics", "metricsPath": "/m"`, `unknown field "spec.podMetricsEndpoints[0].metricsPath"`},
		"case":          {`"targetLabel": "pod"`, `"TargetLabel": "pod"`, "unknown field"},
		"no path":       {`"path": "/metrics",`, ``, ".path is \"\""},
		"no port":       {`"port": "http",`, ``, "has no port"},
		"selector":      {`"rmq.dev/cluster": "demo",`, `"rmq.dev/cluster": "de mo",`, "not a valid label selector"},
		"interval":      {`"interval": "30s"`, `"interval": "30 s"`, "not a Prometheus duration"},
	}
	for name, c := range cases {
		bad := bytes.Replace(good, []byte(c.from), []byte(c.to), 1)
		if bytes.Equal(bad, good) {
			t.Fatalf("%s: the fixture has no %s", name, c.from)
		}
		_, errs := CheckPodMonitor(bad)
		if len(errs) == 0 || !strings.Contains(joinErrs(errs), c.want) {
			t.Errorf("%s: want an error with %q, got %v", name, c.want, errs)
		}
	}
}
