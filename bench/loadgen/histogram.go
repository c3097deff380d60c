package main

import (
	"math/bits"
	"time"
)

// subBits sets the histogram's precision: each power-of-two range of
// nanoseconds is cut into 1<<(subBits-1) equal buckets, so a recorded value
// is known to within 1/128 (< 0.8 %) of itself.
const subBits = 8

const (
	half       = 1 << (subBits - 1)
	numBuckets = (64 - subBits + 1) * half
)

// histogram is a log-linear latency histogram in the manner of HdrHistogram:
// fixed memory, O(1) record, mergeable. It is not safe for concurrent use;
// each worker keeps its own and they are merged at the end.
type histogram struct {
	counts []uint64
	count  int64
	sum    time.Duration
	min    time.Duration
	max    time.Duration
}

func newHistogram() *histogram {
	return &histogram{counts: make([]uint64, numBuckets)}
}

// bucketOf maps v ≥ 0 to its bucket. Values below 1<<subBits have a bucket
// each; above, v's top subBits bits pick the bucket within its power of two.
func bucketOf(v uint64) int {
	m := bits.Len64(v)
	if m <= subBits {
		return int(v)
	}
	shift := m - subBits
	return shift*half + int(v>>shift)
}

// bucketRange returns the smallest value of bucket i and the bucket's width.
func bucketRange(i int) (lo, width uint64) {
	if i < 2*half {
		return uint64(i), 1
	}
	shift := i/half - 1
	top := uint64(i - shift*half)
	return top << shift, 1 << shift
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	if h.count == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.count++
	h.sum += d
}

func (h *histogram) merge(o *histogram) {
	if o.count == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.count == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.count += o.count
	h.sum += o.sum
}

// quantile returns the value below which a fraction q of the recorded values
// lie: the middle of the bucket that holds the ⌈q·count⌉-th value, clamped to
// the observed minimum and maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.count == 0 {
		return 0
	}
	rank := uint64(q*float64(h.count) + 0.999999999)
	rank = max(rank, 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, width := bucketRange(i)
			v := time.Duration(lo + width/2)
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}

func (h *histogram) mean() time.Duration {
	if h.count == 0 {
		return 0
	}
	return h.sum / time.Duration(h.count)
}
