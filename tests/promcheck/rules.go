package main

// A PrometheusRule object, checked as `promtool check rules --lint=duplicate-rules --lint-fatal`
// checks a rule file: its spec is the rule file the Prometheus operator writes for Prometheus.

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"sigs.k8s.io/yaml"
)

// RuleCheck is a checked PrometheusRule: where it lives and its rule groups as Prometheus
// loads them.
type RuleCheck struct {
	Namespace, Name string
	Groups          []rulefmt.RuleGroup
	// RuleFile is .spec as the YAML rule file that was checked (rulefmt's line:column refer
	// to it); set once .spec was read, also when the check fails.
	RuleFile []byte
}

// CheckPrometheusRule validates a PrometheusRule object (JSON, as `kubectl get -o json` prints
// it). It must decode strictly into monitoring.coreos.com/v1 PrometheusRule (no unknown or
// duplicate fields), and its .spec, as a rule file, must pass rulefmt.Parse with unknown fields
// refused and UTF-8 names, as promtool check rules does: every group named once, every rule
// exactly one of alert/record, every expr parsed by the PromQL parser, `for`/`keep_firing_for`
// valid durations (and none on recording rules), label names and values valid, every label and
// annotation template parsed. Rules with the same name and labels are an error too (promtool's
// duplicate-rules lint, made fatal). Every problem found is returned.
func CheckPrometheusRule(data []byte) (RuleCheck, []error) {
	var obj monitoringv1.PrometheusRule
	if errs := strictDecode(data, &obj); len(errs) > 0 {
		return RuleCheck{}, errs
	}
	if obj.APIVersion != "monitoring.coreos.com/v1" || obj.Kind != "PrometheusRule" {
		return RuleCheck{}, []error{fmt.Errorf("apiVersion/kind is %q/%q, want monitoring.coreos.com/v1/PrometheusRule", obj.APIVersion, obj.Kind)}
	}
	ruleFile, err := ruleFileOf(data)
	if err != nil {
		return RuleCheck{}, []error{err}
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	failed := RuleCheck{RuleFile: ruleFile}
	rgs, errs := rulefmt.Parse(ruleFile, false, model.UTF8Validation, PromParser, logger)
	if len(errs) > 0 {
		return failed, dedupe(errs)
	}
	if len(rgs.Groups) == 0 {
		return failed, []error{fmt.Errorf(".spec.groups is empty: the rule file would hold no rule")}
	}
	if dups := duplicateRules(rgs.Groups); len(dups) > 0 {
		return failed, []error{fmt.Errorf("duplicate rules (same name and labels; promtool's duplicate-rules lint): %s", strings.Join(dups, "; "))}
	}
	return RuleCheck{Namespace: obj.Namespace, Name: obj.Name, Groups: rgs.Groups, RuleFile: ruleFile}, nil
}

// ruleFileOf turns the object's .spec into the YAML rule file Prometheus would load. Like the
// Prometheus operator for Prometheus, it drops the Thanos-only partial_response_strategy.
func ruleFileOf(data []byte) ([]byte, error) {
	var obj struct {
		Spec map[string]any `json:"spec"`
	}
	if err := json.Unmarshal(data, &obj); err != nil {
		return nil, fmt.Errorf("the object is not JSON: %w", err)
	}
	if obj.Spec == nil {
		return nil, fmt.Errorf("the object has no .spec")
	}
	if groups, ok := obj.Spec["groups"].([]any); ok {
		for _, g := range groups {
			if gm, ok := g.(map[string]any); ok {
				delete(gm, "partial_response_strategy")
			}
		}
	}
	js, err := json.Marshal(obj.Spec)
	if err != nil {
		return nil, fmt.Errorf("re-encoding .spec: %w", err)
	}
	return yaml.JSONToYAML(js)
}

// dedupe drops repeated errors (rulefmt reports a bad field once per decoding pass).
func dedupe(errs []error) []error {
	seen := map[string]bool{}
	var out []error
	for _, e := range errs {
		if !seen[e.Error()] {
			seen[e.Error()] = true
			out = append(out, e)
		}
	}
	return out
}

// duplicateRules names the rules that share their name (alert or record) and their labels
// (group labels overridden by the rule's), each once.
func duplicateRules(groups []rulefmt.RuleGroup) []string {
	seen := map[string]int{}
	var order []string
	for _, g := range groups {
		for _, r := range g.Rules {
			labels := map[string]string{}
			for k, v := range g.Labels {
				labels[k] = v
			}
			for k, v := range r.Labels {
				labels[k] = v
			}
			key := ruleName(r) + labelString(labels)
			if seen[key] == 1 {
				order = append(order, key)
			}
			seen[key]++
		}
	}
	return order
}

func ruleName(r rulefmt.Rule) string {
	if r.Alert != "" {
		return r.Alert
	}
	return r.Record
}

func labelString(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%q", k, labels[k]))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// Summary is one line per group: its name, alerts and recording rules.
func (c RuleCheck) Summary() string {
	var b strings.Builder
	n := 0
	for _, g := range c.Groups {
		n += len(g.Rules)
	}
	fmt.Fprintf(&b, "PrometheusRule %s/%s: SUCCESS: %d group(s), %d rule(s)\n", c.Namespace, c.Name, len(c.Groups), n)
	for _, g := range c.Groups {
		var alerts, records []string
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts = append(alerts, fmt.Sprintf("%s (for %s)", r.Alert, r.For))
			} else {
				records = append(records, r.Record)
			}
		}
		fmt.Fprintf(&b, "  group %s: %d alert(s): %s", g.Name, len(alerts), strings.Join(alerts, ", "))
		if len(records) > 0 {
			fmt.Fprintf(&b, "; %d recording rule(s): %s", len(records), strings.Join(records, ", "))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Exprs is every rule's expression, labelled group/rule, and the names recording rules write.
func (c RuleCheck) Exprs() ([]LabelledExpr, map[string]bool) {
	var exprs []LabelledExpr
	recorded := map[string]bool{}
	for _, g := range c.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, LabelledExpr{Where: fmt.Sprintf("group %s rule %s", g.Name, ruleName(r)), Expr: r.Expr})
			if r.Record != "" {
				recorded[r.Record] = true
			}
		}
	}
	return exprs, recorded
}
