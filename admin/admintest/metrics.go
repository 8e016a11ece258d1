package admintest

import (
	"fmt"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Sample finds one counter or gauge sample in a Prometheus text exposition (the body of
// GET /metrics), named as the exposition writes it: `livechat_sessions` or
// `livechat_ws_errors_total{code="1004"}` (label order does not matter). ok is false when the
// exposition has no such sample; err says what could not be parsed.
func Sample(exposition, sample string) (value float64, ok bool, err error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(exposition))
	if err != nil {
		return 0, false, fmt.Errorf("parse exposition: %w", err)
	}
	wanted, err := parser.TextToMetricFamilies(strings.NewReader(sample + " 0\n"))
	if err != nil || len(wanted) != 1 {
		return 0, false, fmt.Errorf("parse sample name %q: %v", sample, err)
	}
	for name, w := range wanted {
		labels := labelMap(w.GetMetric()[0].GetLabel())
		for _, m := range families[name].GetMetric() {
			if !sameLabels(labelMap(m.GetLabel()), labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue(), true, nil
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), true, nil
			case m.Untyped != nil:
				return m.GetUntyped().GetValue(), true, nil
			}
			return 0, false, fmt.Errorf("sample %q is neither a counter nor a gauge", sample)
		}
	}
	return 0, false, nil
}

func labelMap(pairs []*dto.LabelPair) map[string]string {
	m := make(map[string]string, len(pairs))
	for _, p := range pairs {
		m[p.GetName()] = p.GetValue()
	}
	return m
}

func sameLabels(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
