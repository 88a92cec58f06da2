// The Prometheus exposition-format parser of test/metrics: the Prometheus project's own text
// parser (github.com/prometheus/common/expfmt, what client_golang and promtool use) run on the
// scrape the test writes to stdin. It prints the metric families as JSON, or exits 1 with the
// parser's error. Nothing here interprets the result: the test does.
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

type bucket struct {
	Le    string `json:"le"`
	Count uint64 `json:"count"`
}

type sample struct {
	Labels  map[string]string `json:"labels"`
	Value   *float64          `json:"value,omitempty"`
	Count   *uint64           `json:"count,omitempty"`
	Sum     *float64          `json:"sum,omitempty"`
	Buckets []bucket          `json:"buckets,omitempty"`
}

type family struct {
	Name    string   `json:"name"`
	Type    string   `json:"type"`
	Help    string   `json:"help"`
	Samples []sample `json:"samples"`
}

func le(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return fmt.Sprintf("%g", v)
}

func convert(m *dto.Metric) sample {
	s := sample{Labels: map[string]string{}}
	for _, l := range m.GetLabel() {
		s.Labels[l.GetName()] = l.GetValue()
	}
	switch {
	case m.Counter != nil:
		v := m.GetCounter().GetValue()
		s.Value = &v
	case m.Gauge != nil:
		v := m.GetGauge().GetValue()
		s.Value = &v
	case m.Untyped != nil:
		v := m.GetUntyped().GetValue()
		s.Value = &v
	case m.Histogram != nil:
		h := m.GetHistogram()
		count, sum := h.GetSampleCount(), h.GetSampleSum()
		s.Count, s.Sum = &count, &sum
		for _, b := range h.GetBucket() {
			s.Buckets = append(s.Buckets, bucket{Le: le(b.GetUpperBound()), Count: b.GetCumulativeCount()})
		}
	}
	return s
}

func main() {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	out := []family{}
	for name, f := range families {
		fam := family{Name: name, Type: f.GetType().String(), Help: f.GetHelp(), Samples: []sample{}}
		for _, m := range f.GetMetric() {
			fam.Samples = append(fam.Samples, convert(m))
		}
		out = append(out, fam)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
