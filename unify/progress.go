package unify

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// progress prints a line now and then while a run reads and writes: what
// is done, the rate and the time left. Operators watch it on stderr, a
// terminal or a log: it prints whether or not stderr is a terminal.
type progress struct {
	w     io.Writer
	every time.Duration

	mu    sync.Mutex
	name  string
	unit  string
	total int64
	start time.Time

	done atomic.Int64
	quit chan struct{}
	wg   sync.WaitGroup
}

// newProgress starts printing to w every every (2s when zero, at least
// 1s); a nil w prints nothing.
func newProgress(w io.Writer, every time.Duration) *progress {
	p := &progress{w: w, every: every, quit: make(chan struct{})}
	if w == nil {
		return p
	}
	if p.every == 0 {
		p.every = 2 * time.Second
	}
	p.every = max(p.every, time.Second)
	p.wg.Go(p.loop)
	return p
}

// phase starts counting toward total units of a new phase.
func (p *progress) phase(name, unit string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.name, p.unit, p.total, p.start = name, unit, total, time.Now()
	p.done.Store(0)
}

func (p *progress) add(n int64) { p.done.Add(n) }

func (p *progress) loop() {
	t := time.NewTicker(p.every)
	defer t.Stop()
	for {
		select {
		case <-p.quit:
			return
		case <-t.C:
			p.print()
		}
	}
}

func (p *progress) print() {
	p.mu.Lock()
	name, unit, total, start := p.name, p.unit, p.total, p.start
	p.mu.Unlock()
	done := p.done.Load()
	elapsed := time.Since(start)
	if unit == "" { // a phase with nothing to count
		fmt.Fprintf(p.w, "unify: %s, for %s\n", name, elapsed.Round(time.Second))
		return
	}
	rate := float64(done) / max(elapsed.Seconds(), 1e-3)
	scale := 1.0
	if unit == "bytes" {
		scale, unit = 1<<20, "MiB"
	}
	line := fmt.Sprintf("unify: %s: %.0f of %.0f %s", name, float64(done)/scale, float64(total)/scale, unit)
	if total > 0 {
		line += fmt.Sprintf(" (%.0f%%)", 100*float64(done)/float64(total))
	}
	line += fmt.Sprintf(", %.0f %s/s", rate/scale, unit)
	if rate > 0 && total > done {
		left := time.Duration(float64(total-done) / rate * float64(time.Second))
		line += ", about " + left.Round(time.Second).String() + " left"
	}
	fmt.Fprintln(p.w, line)
}

// stop ends the printing.
func (p *progress) stop() {
	select {
	case <-p.quit:
	default:
		close(p.quit)
	}
	p.wg.Wait()
}
