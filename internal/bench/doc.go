// Package bench measures baton against the seed's deploy script and the
// bare tools, side by side in one run. Run it with `go run mage.go bench`,
// which writes docs/benchmarks.md; the benchmarks never assert on time.
package bench
