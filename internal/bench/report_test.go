package bench

import (
	"strings"
	"testing"
	"time"
)

func TestParseAndReport(t *testing.T) {
	out := `goos: linux
BenchmarkDeploy-2   	       1	18000000000 ns/op	        18.0 baton-s	         1.01 baton/floor	        64.5 seed-s
BenchmarkDeliveries-2   	       1	      4700 deliveries/s	         6.3 p50-ms
BenchmarkScale/hosts=8-2	1	1.5 ns/op	14.9 ansible-s
PASS`
	res := Parse(out)
	if len(res) != 3 {
		t.Fatalf("parsed %d results, want 3: %+v", len(res), res)
	}
	if res[0].Name != "Deploy" || res[0].Metrics["baton/floor"] != 1.01 || res[0].Metrics["seed-s"] != 64.5 {
		t.Errorf("Deploy = %+v", res[0])
	}
	if res[1].Name != "Deliveries" || res[1].Metrics["deliveries/s"] != 4700 || res[1].Metrics["p50-ms"] != 6.3 {
		t.Errorf("Deliveries (no ns/op) = %+v", res[1])
	}
	if res[2].Name != "Scale/hosts=8" || res[2].Metrics["ansible-s"] != 14.9 {
		t.Errorf("Scale = %+v", res[2])
	}
	report := Report(res, "go run mage.go bench", time.Minute, "test machine")
	for _, want := range []string{"| Deploy | baton/floor | 1.01 |", "| Deliveries | deliveries/s | 4700 |", "| baton within 10% of the floor | baton/floor = 1.01 | yes |"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}
