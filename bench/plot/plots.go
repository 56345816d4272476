package main

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// plotThroughput draws median tx/s against concurrency (log scale), one line
// per mode, with the runs' min–max as error bars.
func plotThroughput(rs *runs, path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Throughput against concurrency (median of %d runs, bars: min–max; log scales)", rs.n)
	p.X.Label.Text = "concurrency (transactions in flight)"
	p.Y.Label.Text = "committed tx/s (raft: applies/s)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = concTicks(rs.concs)
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = oneTwoFive{}
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	for i, mode := range rs.modes {
		pts := make(plotter.XYs, 0, len(rs.concs))
		var errs plotter.YErrors
		for _, c := range rs.concs {
			ls := rs.cells[key{mode, c}]
			if len(ls) == 0 {
				continue
			}
			s := statOf(ls, func(l level) float64 { return l.TxPerSec })
			pts = append(pts, plotter.XY{X: float64(c), Y: s.med})
			errs = append(errs, struct{ Low, High float64 }{s.med - s.lo, s.hi - s.med})
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		line.Color, points.Color = plotutil.Color(i), plotutil.Color(i)
		points.Shape = plotutil.Shape(i)
		bars, err := plotter.NewYErrorBars(struct {
			plotter.XYer
			plotter.YErrorer
		}{pts, errs})
		if err != nil {
			return err
		}
		bars.Color = plotutil.Color(i)
		p.Add(line, points, bars)
		p.Legend.Add(modeTitle(mode), line, points)
	}
	return p.Save(22*vg.Centimeter, 14*vg.Centimeter, path)
}

// plotLatency draws the latency distribution of one mode: latency (log
// scale) against percentile on a "nines" axis, one line per concurrency. Each
// point is the median across runs of that quantile.
func plotLatency(rs *runs, mode, path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Latency distribution, %s (median of %d runs)", modeTitle(mode), rs.n)
	p.X.Label.Text = "percentile"
	p.Y.Label.Text = "latency (ms)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = oneTwoFive{}
	p.X.Tick.Marker = ninesTicks{}
	p.X.Min, p.X.Max = 0, 4
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	for i, c := range rs.concs {
		ls := rs.cells[key{mode, c}]
		if len(ls) == 0 || len(ls[0].Spectrum) == 0 {
			continue
		}
		var pts plotter.XYs
		for j, q := range ls[0].Spectrum {
			if q.Q >= 1 || q.Q < 0.5 {
				continue // the max is one sample; below the median is flat
			}
			s := statOf(ls, func(l level) float64 {
				if j < len(l.Spectrum) {
					return l.Spectrum[j].Ms
				}
				return math.NaN()
			})
			if s.med > 0 {
				pts = append(pts, plotter.XY{X: nines(q.Q), Y: s.med})
			}
		}
		if len(pts) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return err
		}
		line.Color, points.Color = plotutil.Color(i), plotutil.Color(i)
		points.Shape = draw.CircleGlyph{}
		points.Radius = vg.Points(2)
		p.Add(line, points)
		p.Legend.Add(fmt.Sprintf("c=%d", c), line)
	}
	return p.Save(22*vg.Centimeter, 14*vg.Centimeter, path)
}

// nines maps a quantile to -log10(1-q): 0.9 → 1, 0.99 → 2, 0.999 → 3.
func nines(q float64) float64 { return -math.Log10(1 - q) }

// ninesTicks labels the nines axis with percentiles.
type ninesTicks struct{}

func (ninesTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for _, t := range []struct {
		q     float64
		label string
	}{{0.5, "50%"}, {0.75, "75%"}, {0.9, "90%"}, {0.95, "95%"}, {0.99, "99%"}, {0.995, "99.5%"}, {0.999, "99.9%"}, {0.9999, "99.99%"}} {
		if x := nines(t.q); x >= lo && x <= hi {
			ts = append(ts, plot.Tick{Value: x, Label: t.label})
		}
	}
	return ts
}

// concTicks labels exactly the measured concurrency levels.
type concTicks []int

func (cs concTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for _, c := range cs {
		if v := float64(c); v >= lo && v <= hi {
			ts = append(ts, plot.Tick{Value: v, Label: fmt.Sprint(c)})
		}
	}
	return ts
}

// oneTwoFive labels a log axis at 1, 2 and 5 times each power of ten.
type oneTwoFive struct{}

func (oneTwoFive) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, m := range []float64{1, 2, 5} {
			if v := m * math.Pow(10, e); v >= lo && v <= hi {
				ts = append(ts, plot.Tick{Value: v, Label: fmt.Sprint(v)})
			}
		}
	}
	return ts
}
