package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCLI(args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := run(args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestMetricsAgainstRealScrapes(t *testing.T) {
	scrapes := []string{"--scrape", "testdata/broker.om", "--scrape", "testdata/namesrv.om", "--scrape", "testdata/operator.om"}
	out, stderr, err := runCLI(append([]string{"metrics", "--rule", "testdata/prometheusrule.json"}, scrapes...)...)
	if err != nil || !strings.Contains(out, "SUCCESS") || !strings.Contains(out, "not looked for (Prometheus or a recording rule writes them): up") {
		t.Fatalf("rule: %v\n%s%s", err, out, stderr)
	}
	// the failing case: the operator's scrape left out, and a metric no component exports
	exprs := filepath.Join(t.TempDir(), "exprs")
	text := "# a comment\nsum(rate(rocketmq_messages_in_total{rmq_cluster=~\"$cluster\"}[$__rate_interval]))\n\n" +
		"rate(rmq_operator_reconciliations_total[5m])\nrocketmq_no_such_metric\n"
	if err := os.WriteFile(exprs, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	out, stderr, err = runCLI("metrics", "--exprs-file", exprs, "--scrape", "testdata/broker.om")
	if !errors.Is(err, errFailed) {
		t.Fatalf("want a failed check, got %v\n%s%s", err, out, stderr)
	}
	if want := "2 of 3 queried metric(s) are exported by no scrape: rmq_operator_reconciliations_total rocketmq_no_such_metric"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q lacks %q", err, want)
	}
	if !strings.Contains(stderr, "MISSING rocketmq_no_such_metric, queried by: "+exprs+":5") {
		t.Errorf("stderr: %s", stderr)
	}
}

func TestNamesAndUsage(t *testing.T) {
	out, _, err := runCLI("names", "--rule", "testdata/prometheusrule.json")
	if err != nil || !strings.HasPrefix(out, "rmq_broker_namesrvs_registered\nrmq_broker_ready\n") {
		t.Errorf("names: %v %q", err, out)
	}
	for _, args := range [][]string{{}, {"nope"}, {"rules"}, {"metrics", "--rule", "x"}, {"names", "--rule", "a", "--dashboard", "b"}} {
		if _, _, err := runCLI(args...); !errors.Is(err, errUsage) {
			t.Errorf("%v: want a usage error, got %v", args, err)
		}
	}
	if _, stderr, err := runCLI("podmonitor", "testdata/prometheusrule.json"); !errors.Is(err, errFailed) || !strings.Contains(stderr, "unknown field") {
		t.Errorf("a PrometheusRule passed as a PodMonitor: %v %s", err, stderr)
	}
}
