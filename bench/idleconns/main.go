// Command idleconns opens -n keep-alive connections to a loopback HTTP
// server, sends one GET on each (with -host and -cookie, so the gateway does
// its whole work once per connection), reads the answer, then holds every
// connection open and idle for -hold, and exits. It prints how many
// connections answered 2xx and are still held.
//
// Loopback only, like loadgen: the target must be 127.0.0.0/8, ::1 or
// localhost. Bounded by -n and by -hold.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	target := flag.String("url", "", "target URL (loopback only)")
	host := flag.String("host", "", "Host header")
	cookie := flag.String("cookie", "", "Cookie header")
	n := flag.Int("n", 10000, "connections to open (at most 50000)")
	hold := flag.Duration("hold", 30*time.Second, "how long to hold them idle (at most 10m)")
	parallel := flag.Int("p", 64, "connections opened at once")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil || u.Scheme != "http" || *n < 1 || *n > 50000 || *hold > 10*time.Minute {
		fmt.Fprintln(os.Stderr, "idleconns: want -url http://127.0.0.1:PORT/, 1 <= -n <= 50000, -hold <= 10m")
		os.Exit(2)
	}
	addr := u.Host
	if h, _, err := net.SplitHostPort(addr); err == nil && h != "localhost" {
		if ip, err := netip.ParseAddr(h); err != nil || !ip.IsLoopback() {
			fmt.Fprintln(os.Stderr, "idleconns: the target must be a loopback address")
			os.Exit(2)
		}
	}
	req := fmt.Sprintf("GET %s HTTP/1.1\r\nHost: %s\r\nCookie: %s\r\nUser-Agent: idleconns\r\n\r\n", u.RequestURI(), *host, *cookie)

	var (
		conns  = make([]net.Conn, *n)
		ok     atomic.Int64
		failed atomic.Int64
		wg     sync.WaitGroup
		sem    = make(chan struct{}, *parallel)
	)
	start := time.Now()
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				failed.Add(1)
				return
			}
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.WriteString(c, req); err != nil {
				c.Close()
				failed.Add(1)
				return
			}
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil || resp.StatusCode/100 != 2 {
				c.Close()
				failed.Add(1)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			_ = c.SetDeadline(time.Time{})
			conns[i] = c
			ok.Add(1)
		}()
	}
	wg.Wait()
	fmt.Printf("opened=%d failed=%d in %.1fs; holding for %v\n", ok.Load(), failed.Load(), time.Since(start).Seconds(), *hold)
	time.Sleep(*hold)
	held := 0
	for _, c := range conns {
		if c == nil {
			continue
		}
		// A connection the server closed reads EOF at once.
		_ = c.SetReadDeadline(time.Now().Add(time.Millisecond))
		var b [1]byte
		if _, err := c.Read(b[:]); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				held++
			}
		}
		c.Close()
	}
	fmt.Printf("held=%d\n", held)
}
