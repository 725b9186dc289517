package main

// What a /metrics scrape exports: the series names Prometheus would store from it.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Scrape is one parsed exposition: its format and the series names it exports.
type Scrape struct {
	Format string
	// Series maps each exported series name to true if it has samples in this scrape, false
	// if only its family's `# TYPE` line declares it (a labelled counter nothing has
	// incremented yet, say).
	Series map[string]bool
}

// IsOpenMetrics says whether an exposition is OpenMetrics: it must end with `# EOF`, which the
// Prometheus text format does not have (a scrape saved by curl loses the Content-Type header).
func IsOpenMetrics(data []byte) bool {
	return bytes.HasSuffix(bytes.TrimRight(data, "\n"), []byte("# EOF"))
}

// ParseScrape decodes an exposition with prometheus/common's expfmt (OpenMetrics 1.0 or the
// text format, see IsOpenMetrics) and returns the series names it exports. A syntax error of the
// exposition is an error: Prometheus would fail the whole scrape.
func ParseScrape(data []byte) (Scrape, error) {
	format, name := expfmt.FmtText, "Prometheus text 0.0.4"
	om := IsOpenMetrics(data)
	if om {
		format, name = expfmt.FmtOpenMetrics_1_0_0, "OpenMetrics 1.0"
	}
	s := Scrape{Format: name, Series: map[string]bool{}}
	dec := expfmt.NewDecoder(bytes.NewReader(data), format)
	for {
		var mf dto.MetricFamily
		err := dec.Decode(&mf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Scrape{}, fmt.Errorf("%s exposition does not parse: %w", name, err)
		}
		if len(mf.GetMetric()) == 0 {
			continue
		}
		// expfmt names an OpenMetrics counter family by its sample name (x_total) already.
		for _, n := range seriesNames(mf.GetName(), mf.GetType(), false) {
			s.Series[n] = true
		}
	}
	for fam, typ := range declaredFamilies(data) {
		for _, n := range seriesNames(fam, typ, om) {
			if !s.Series[n] {
				s.Series[n] = false
			}
		}
	}
	return s, nil
}

// seriesNames is the names of the series a family of that type exports. omCounter: the family
// name is an OpenMetrics counter's (x), whose samples are x_total.
func seriesNames(family string, typ dto.MetricType, omCounter bool) []string {
	switch typ {
	case dto.MetricType_COUNTER:
		if omCounter && !strings.HasSuffix(family, "_total") {
			return []string{family + "_total"}
		}
		return []string{family}
	case dto.MetricType_SUMMARY:
		return []string{family, family + "_sum", family + "_count"}
	case dto.MetricType_HISTOGRAM:
		return []string{family + "_bucket", family + "_sum", family + "_count"}
	case dto.MetricType_GAUGE_HISTOGRAM:
		return []string{family + "_bucket", family + "_gsum", family + "_gcount"}
	default:
		return []string{family}
	}
}

// declaredFamilies reads the `# TYPE name type` lines of an exposition (both formats have
// them). expfmt drops families without samples; their declarations still say what the exporter
// exports.
func declaredFamilies(data []byte) map[string]dto.MetricType {
	types := map[string]dto.MetricType{
		"counter": dto.MetricType_COUNTER, "gauge": dto.MetricType_GAUGE,
		"summary": dto.MetricType_SUMMARY, "histogram": dto.MetricType_HISTOGRAM,
		"gaugehistogram": dto.MetricType_GAUGE_HISTOGRAM,
	}
	out := map[string]dto.MetricType{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 4 || f[0] != "#" || f[1] != "TYPE" {
			continue
		}
		t, ok := types[f[3]]
		switch {
		case f[3] == "info": // OpenMetrics: the samples of info family x are x_info
			out[f[2]+"_info"] = dto.MetricType_UNTYPED
		case ok:
			out[f[2]] = t
		default: // untyped, unknown, stateset: samples carry the family name
			out[f[2]] = dto.MetricType_UNTYPED
		}
	}
	return out
}
