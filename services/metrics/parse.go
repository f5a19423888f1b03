package metrics

import (
	"fmt"
	"io"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ParseText reads a /metrics answer in the Prometheus text format, by family name. Tests and
// tools use it to check what a process exposes.
func ParseText(r io.Reader) (map[string]*dto.MetricFamily, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("metrics: parse: %w", err)
	}
	return fams, nil
}

// Value returns the value of the sample name whose labels include labels. name may end in
// _bucket (with an "le" label), _count or _sum to read a histogram's parts. A counter or gauge
// sample that is absent is reported with ok false.
func Value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) (v float64, ok bool) {
	part := ""
	fam := fams[name]
	for _, suffix := range []string{"_bucket", "_count", "_sum"} {
		if fam == nil && strings.HasSuffix(name, suffix) {
			fam, part = fams[strings.TrimSuffix(name, suffix)], suffix
		}
	}
	if fam == nil {
		return 0, false
	}
	for _, m := range fam.GetMetric() {
		if !matches(m, labels, part) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		case m.Histogram != nil:
			h := m.Histogram
			switch part {
			case "_count":
				return float64(h.GetSampleCount()), true
			case "_sum":
				return h.GetSampleSum(), true
			case "_bucket":
				for _, b := range h.GetBucket() {
					if fmt.Sprint(b.GetUpperBound()) == labels["le"] {
						return float64(b.GetCumulativeCount()), true
					}
				}
			}
		}
	}
	return 0, false
}

func matches(m *dto.Metric, labels map[string]string, part string) bool {
	have := map[string]string{}
	for _, l := range m.GetLabel() {
		have[l.GetName()] = l.GetValue()
	}
	for k, v := range labels {
		if k == "le" && part == "_bucket" {
			continue
		}
		if have[k] != v {
			return false
		}
	}
	return true
}
