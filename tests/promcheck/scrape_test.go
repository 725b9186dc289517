package main

import (
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func names(s Scrape) []string {
	var out []string
	for n := range s.Series {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

const omSample = `# HELP req requests.
# TYPE req counter
req_total{code="a"} 3
req_created{code="a"} 1700000000.0
# TYPE lat histogram
lat_bucket{le="1.0"} 1
lat_bucket{le="+Inf"} 2
lat_sum 3.5
lat_count 2
# TYPE errs counter
# HELP idle declared, never set.
# TYPE idle gauge
# TYPE temp gauge
temp 21.5
# EOF
`

// OpenMetrics: counters are stored as x_total, histograms as _bucket/_sum/_count; a family
// declared without samples still counts as exported (false: no samples).
func TestOpenMetricsSeriesNames(t *testing.T) {
	s, err := ParseScrape([]byte(omSample))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"errs_total", "idle", "lat_bucket", "lat_count", "lat_sum", "req_total", "temp"}
	if got := names(s); !reflect.DeepEqual(got, want) || s.Format != "OpenMetrics 1.0" {
		t.Fatalf("%s: %v, want %v", s.Format, got, want)
	}
	if !s.Series["req_total"] || s.Series["errs_total"] || s.Series["idle"] {
		t.Errorf("sampled flags %v", s.Series)
	}
	// the failing case: querying an OpenMetrics counter by its family name finds no series
	q := NewQueried()
	for _, e := range []string{`rate(req_total[5m])`, `rate(req[5m])`, `histogram_quantile(0.9, rate(lat_bucket[5m]))`, `lat`} {
		if err := q.Add(e, e); err != nil {
			t.Fatal(err)
		}
	}
	m, err := FindMissing(q, map[string]bool{"req_total": true, "lat_bucket": true}, nil)
	if err != nil || !reflect.DeepEqual(m.Names, []string{"lat", "req"}) {
		t.Errorf("missing %v (%v), want [lat req]", m.Names, err)
	}
}

func TestTextFormatSeriesNames(t *testing.T) {
	s, err := ParseScrape([]byte(`# TYPE http_requests_total counter
http_requests_total{code="200"} 1027
# TYPE rpc summary
rpc{quantile="0.5"} 4
rpc_sum 20
rpc_count 5
# TYPE unused_total counter
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"http_requests_total", "rpc", "rpc_count", "rpc_sum", "unused_total"}
	if got := names(s); !reflect.DeepEqual(got, want) || !strings.HasPrefix(s.Format, "Prometheus text") {
		t.Errorf("%s: %v, want %v", s.Format, got, want)
	}
}

func TestABrokenExpositionIsAnError(t *testing.T) {
	for _, bad := range []string{"# TYPE x counter\nx_total{a=\"1\" 2\n# EOF\n", "x{a=\"1\" 2\n"} {
		if _, err := ParseScrape([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

// The scrapes of a real broker and nameserver (OpenMetrics) parse.
func TestRealScrapesParse(t *testing.T) {
	for _, f := range []string{"testdata/broker.om", "testdata/namesrv.om", "testdata/operator.om"} {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := ParseScrape(data)
		if err != nil || len(s.Series) == 0 {
			t.Errorf("%s: %v, %d series names", f, err, len(s.Series))
		}
	}
}
