package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestBufferedLogFlushes(t *testing.T) {
	var out lockedBuffer
	b := newBufferedLog(&out)
	b.Write([]byte("one\n"))
	deadline := time.Now().Add(2 * time.Second)
	for out.String() != "one\n" {
		if time.Now().After(deadline) {
			t.Fatalf("not flushed by the ticker: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.Write([]byte("two\n"))
	b.Close()
	if got := out.String(); got != "one\ntwo\n" {
		t.Fatalf("after Close: %q", got)
	}
	var wg sync.WaitGroup
	var big lockedBuffer
	b = newBufferedLog(&big)
	for i := range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); b.Write([]byte(strings.Repeat("x", 100+i) + "\n")) }()
	}
	wg.Wait()
	b.Close()
	for _, line := range strings.Split(strings.TrimSuffix(big.String(), "\n"), "\n") {
		if strings.Trim(line, "x") != "" {
			t.Fatalf("interleaved line: %q", line)
		}
	}
}
