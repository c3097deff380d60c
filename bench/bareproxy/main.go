// Command bareproxy is the benchmark's baseline: a bare
// httputil.ReverseProxy, with nothing of the gateway's work (no session, no
// headers, no logging), in front of -upstream. It keeps the incoming Host
// and sets X-Forwarded-*, as the gateway does, so the two forward the same
// request; unigate's throughput is read as a ratio of this one's.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9002", "address to listen on")
	upstream := flag.String("upstream", "http://127.0.0.1:9001", "URL of the upstream")
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" {
		fmt.Fprintf(os.Stderr, "bareproxy: -upstream %q: want an http(s) URL\n", *upstream)
		os.Exit(2)
	}

	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport: newTransport(),
	}
	srv := &http.Server{
		Addr:              *listen,
		Handler:           proxy,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	log.Printf("bareproxy: listening on %s, forwarding to %s", *listen, target)
	log.Fatal(srv.ListenAndServe())
}

// newTransport is http.DefaultTransport with enough idle connections kept to
// the one upstream for every concurrent request of the benchmark.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy: nil,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
}
