package ui

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// BenchmarkHistoryLength renders the same history pages over a history
// of 100 runs and one of 10,000, alternately, and reports the ratio of
// their times: a page costs what it shows, so the ratio stays near 1.
// Pages are 10 runs, so that every page benchmarked is full in both.
// Reading each history the first time (what a change of the ledger
// costs once) is reported apart, as read-100 and read-10000.
func BenchmarkHistoryLength(b *testing.B) {
	sizes := []int{100, 10000}
	views := make([]*Handler, len(sizes))
	read := make([]time.Duration, len(sizes))
	// Pages that are full in both histories (10 runs of 100 fail, 33 are
	// bob's), so that both render as many rows.
	pages := []string{"/history", "/history?page=3", "/history?user=bob&page=2", "/history?result=failed", "/"}
	for i, n := range sizes {
		f := newFixture(b)
		many(b, f.env(b, "prod"), n)
		views[i] = newView(b, f, func(o *Options) { o.PageSize = 10 })
		start := time.Now()
		serve(b, views[i], "/history")
		read[i] = time.Since(start)
		for _, p := range pages {
			serve(b, views[i], p) // each filtered list made once
		}
	}
	var took [2]time.Duration
	b.ResetTimer()
	for range b.N {
		for i := range views {
			start := time.Now()
			for _, p := range pages {
				serve(b, views[i], p)
			}
			took[i] += time.Since(start)
		}
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N*len(pages)) }
	b.ReportMetric(per(took[0]), "µs/page-100")
	b.ReportMetric(per(took[1]), "µs/page-10000")
	b.ReportMetric(float64(took[1])/float64(took[0]), "ratio")
	for i, n := range sizes {
		b.ReportMetric(float64(read[i].Microseconds()), fmt.Sprintf("µs-read-%d", n))
	}
	b.ReportMetric(0, "ns/op")
}

func serve(b *testing.B, h http.Handler, path string) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	if rec.Code != http.StatusOK {
		b.Fatalf("GET %s: %d", path, rec.Code)
	}
}
