package report

import (
	"io"
	"testing"
)

// BenchmarkWrite renders the Docker Desktop fixture in each format: the
// part of `agent probe` that runs after the probe has answered.
func BenchmarkWrite(b *testing.B) {
	rep := loadFixture(b, "desktop")
	for _, f := range Formats {
		b.Run(f, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := Write(io.Discard, rep, Options{Format: f}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
