package webhook

import (
	"bytes"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkDeliveries posts signed GitHub deliveries from 32 concurrent
// clients over loopback HTTP while a deploy runs, and reports deliveries
// per second and the latency from sending a request to its answer — by
// then the delivery is verified, queued (coalesced) and fsynced in the
// delivery log.
//
//	go test -run '^$' -bench Deliveries ./pkg/webhook
func BenchmarkDeliveries(b *testing.B) {
	f := newFixture(b, nil)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	body := push("main", "c0ffee", "alice")
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism(32 / max(1, testingProcs()))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			id := fmt.Sprintf("bench-%d", next.Add(1))
			req, _ := http.NewRequest(http.MethodPost, f.http.URL+"/hooks/gh", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-GitHub-Event", "push")
			req.Header.Set("X-GitHub-Delivery", id)
			name, value := GitHub.Sign(body, testSecret, time.Time{})
			req.Header.Set(name, value)
			t0 := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			resp.Body.Close()
			mine = append(mine, time.Since(t0))
			if resp.StatusCode != http.StatusAccepted {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(0, "ns/op")
}

// testingProcs is GOMAXPROCS, which RunParallel multiplies by the
// parallelism.
func testingProcs() int { return runtime.GOMAXPROCS(0) }
