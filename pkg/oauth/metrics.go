package oauth

import (
	"encoding/json"
	"io"
	"os"
	"sync"
	"time"
)

// metricsMu keeps concurrent sweeps' lines whole on a shared writer.
var metricsMu sync.Mutex

// MetricsNamespace is the namespace of the sweep's metrics; their one
// dimension, Service, is Config.MetricsService (the stack's name).
const MetricsNamespace = "oauthfn"

// writeMetrics writes s as one CloudWatch Embedded Metric Format line to
// h.Metrics (os.Stdout when nil): namespace "oauthfn", dimension set
// [["Service"]] with Service=Config.MetricsService (DefaultMetricsService
// when empty), the counts as Count metrics and
// duration_ms in Milliseconds. The metrics carry counts only, never account
// ids or tokens.
func (h *Handler) writeMetrics(s SweepSummary, now time.Time) {
	w := h.Metrics
	if w == nil {
		w = os.Stdout
	}
	service := h.Config.MetricsService
	if service == "" {
		service = DefaultMetricsService
	}
	metricsMu.Lock()
	err := writeEMF(w, service, s, now)
	metricsMu.Unlock()
	if err != nil {
		h.Log.Warn("could not write metrics", "err", err)
	}
}

type emfMetric struct {
	Name string `json:"Name"`
	Unit string `json:"Unit"`
}

type emfDirective struct {
	Namespace  string      `json:"Namespace"`
	Dimensions [][]string  `json:"Dimensions"`
	Metrics    []emfMetric `json:"Metrics"`
}

type emfMeta struct {
	Timestamp         int64          `json:"Timestamp"`
	CloudWatchMetrics []emfDirective `json:"CloudWatchMetrics"`
}

func writeEMF(w io.Writer, service string, s SweepSummary, now time.Time) error {
	counts := []struct {
		name string
		v    int
	}{
		{"due", s.Due},
		{"refreshed", s.Refreshed},
		{"failed", s.Failed},
		{"reauth_required", s.ReauthRequired},
		{"rate_limited", s.RateLimited},
		{"skipped_leased", s.SkippedLeased},
		{"revoked", s.Revoked},
		{"pending_expired", s.PendingExpired},
	}
	line := map[string]any{"Service": service}
	dir := emfDirective{Namespace: MetricsNamespace, Dimensions: [][]string{{"Service"}}}
	for _, c := range counts {
		dir.Metrics = append(dir.Metrics, emfMetric{Name: c.name, Unit: "Count"})
		line[c.name] = c.v
	}
	dir.Metrics = append(dir.Metrics, emfMetric{Name: "duration_ms", Unit: "Milliseconds"})
	line["duration_ms"] = s.DurationMS
	line["_aws"] = emfMeta{Timestamp: now.UnixMilli(), CloudWatchMetrics: []emfDirective{dir}}
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}
