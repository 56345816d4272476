package main

import (
	"fmt"
	"io"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress draws one progress bar per level on w: time elapsed over warm-up
// plus window, with the operations done and the current rate.
type progress struct{ w io.Writer }

// run starts the bar of level lv, which started at start and counts
// finished operations in done; the returned func finishes it. A nil
// progress draws nothing.
func (p *progress) run(lv level, start time.Time, done *atomic.Int64) (finish func()) {
	if p == nil {
		return func() {}
	}
	total := lv.warmup + lv.duration
	bar := progressbar.NewOptions64(total.Milliseconds(),
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetDescription(describe(lv, 0, 0)))
	stop := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		last, lastAt := int64(0), start
		for {
			select {
			case <-stop:
				return
			case now := <-tick.C:
				n := done.Load()
				rate := float64(n-last) / now.Sub(lastAt).Seconds()
				last, lastAt = n, now
				bar.Describe(describe(lv, n, rate))
				_ = bar.Set64(min(now.Sub(start), total).Milliseconds())
			}
		}
	}()
	return func() {
		close(stop)
		<-stopped
		_ = bar.Finish()
	}
}

func describe(lv level, n int64, rate float64) string {
	return fmt.Sprintf("%-11s c=%-4d %8d done %7.0f/s", lv.mode, lv.concurrency, n, rate)
}
