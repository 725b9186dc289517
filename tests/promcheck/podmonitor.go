package main

// A PodMonitor object, checked against the Prometheus operator's own Go types.

import (
	"fmt"
	"regexp"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kjson "sigs.k8s.io/json"
)

// strictDecode decodes JSON into v as the Kubernetes API server's strict field validation
// does (sigs.k8s.io/json: case-sensitive; unknown and duplicate fields are errors).
func strictDecode(data []byte, v any) []error {
	strict, err := kjson.UnmarshalStrict(data, v, kjson.DisallowUnknownFields, kjson.DisallowDuplicateFields)
	if err != nil {
		return []error{fmt.Errorf("does not decode: %w", err)}
	}
	out := make([]error, 0, len(strict))
	for _, e := range strict {
		out = append(out, fmt.Errorf("strict decoding: %w", e))
	}
	return out
}

// PodMonitorCheck is a checked PodMonitor.
type PodMonitorCheck struct {
	Object monitoringv1.PodMonitor
}

// CheckPodMonitor validates a PodMonitor object (JSON, as `kubectl get -o json` prints it): it
// must decode strictly into monitoring.coreos.com/v1 PodMonitor (no unknown or duplicate
// fields), select pods (a valid, non-empty label selector) and have at least one endpoint, each
// with a port (name, number or targetPort), a path starting with `/`, valid Prometheus durations
// (interval, scrapeTimeout) and relabelings whose regexes compile. Every problem is returned.
func CheckPodMonitor(data []byte) (PodMonitorCheck, []error) {
	var pm monitoringv1.PodMonitor
	if errs := strictDecode(data, &pm); len(errs) > 0 {
		return PodMonitorCheck{}, errs
	}
	var errs []error
	if pm.APIVersion != "monitoring.coreos.com/v1" || pm.Kind != "PodMonitor" {
		errs = append(errs, fmt.Errorf("apiVersion/kind is %q/%q, want monitoring.coreos.com/v1/PodMonitor", pm.APIVersion, pm.Kind))
	}
	sel := pm.Spec.Selector
	if len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0 {
		errs = append(errs, fmt.Errorf(".spec.selector is empty: it would select every pod of the namespace"))
	} else if _, err := metav1.LabelSelectorAsSelector(&sel); err != nil {
		errs = append(errs, fmt.Errorf(".spec.selector is not a valid label selector: %w", err))
	}
	if len(pm.Spec.PodMetricsEndpoints) == 0 {
		errs = append(errs, fmt.Errorf(".spec.podMetricsEndpoints is empty: nothing would be scraped"))
	}
	for i, ep := range pm.Spec.PodMetricsEndpoints {
		errs = append(errs, checkEndpoint(fmt.Sprintf(".spec.podMetricsEndpoints[%d]", i), ep)...)
	}
	if len(errs) > 0 {
		return PodMonitorCheck{}, errs
	}
	return PodMonitorCheck{Object: pm}, nil
}

func checkEndpoint(at string, ep monitoringv1.PodMetricsEndpoint) []error {
	var errs []error
	if (ep.Port == nil || *ep.Port == "") && ep.PortNumber == nil && ep.TargetPort == nil {
		errs = append(errs, fmt.Errorf("%s has no port (port, portNumber or targetPort)", at))
	}
	if !strings.HasPrefix(ep.Path, "/") {
		errs = append(errs, fmt.Errorf("%s.path is %q: it must be set and start with /", at, ep.Path))
	}
	for field, d := range map[string]monitoringv1.Duration{"interval": ep.Interval, "scrapeTimeout": ep.ScrapeTimeout} {
		if d == "" {
			continue
		}
		if _, err := model.ParseDuration(string(d)); err != nil {
			errs = append(errs, fmt.Errorf("%s.%s %q is not a Prometheus duration: %w", at, field, d, err))
		}
	}
	for kind, rcs := range map[string][]monitoringv1.RelabelConfig{"relabelings": ep.RelabelConfigs, "metricRelabelings": ep.MetricRelabelConfigs} {
		for j, rc := range rcs {
			if rc.Regex == "" {
				continue
			}
			if _, err := regexp.Compile("^(?:" + rc.Regex + ")$"); err != nil {
				errs = append(errs, fmt.Errorf("%s.%s[%d].regex does not compile: %w", at, kind, j, err))
			}
		}
	}
	return errs
}

// Summary describes the PodMonitor in one line per endpoint.
func (c PodMonitorCheck) Summary() string {
	pm := c.Object
	var b strings.Builder
	fmt.Fprintf(&b, "PodMonitor %s/%s: SUCCESS: selector %s, %d endpoint(s)\n", pm.Namespace, pm.Name,
		metav1.FormatLabelSelector(&pm.Spec.Selector), len(pm.Spec.PodMetricsEndpoints))
	for _, ep := range pm.Spec.PodMetricsEndpoints {
		port := ""
		switch {
		case ep.Port != nil && *ep.Port != "":
			port = *ep.Port
		case ep.PortNumber != nil:
			port = fmt.Sprint(*ep.PortNumber)
		case ep.TargetPort != nil:
			port = ep.TargetPort.String()
		}
		fmt.Fprintf(&b, "  port %s path %s interval %s, %d relabeling(s)\n", port, ep.Path, ep.Interval, len(ep.RelabelConfigs))
	}
	return b.String()
}
