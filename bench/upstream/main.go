// Command upstream is the benchmark's stand-in for a console: it answers
// every request 200 with a small fixed body, as cheaply as net/http allows,
// so that what is measured in front of it is the proxy.
//
// It counts the requests it served and how many carried X-Auth-User-Id (the
// gateway's identity header); GET /_bench/stats answers those counts as JSON,
// so that bench/run.sh can check that every request the gateway forwarded
// was an authenticated one. With -echo-auth it also answers the length of
// X-Auth-User-Id in the header X-Bench-Auth-User-Id-Len.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9001", "address to listen on")
	size := flag.Int("size", 64, "body size in bytes")
	echoAuth := flag.Bool("echo-auth", false, "answer X-Bench-Auth-User-Id-Len: length of X-Auth-User-Id")
	flag.Parse()
	if *size < 0 || *size > 1<<20 {
		fmt.Fprintln(os.Stderr, "upstream: -size: want 0..1048576")
		os.Exit(2)
	}

	u := &upstream{body: bytes.Repeat([]byte("x"), *size), echoAuth: *echoAuth}
	if *size > 0 {
		u.body[len(u.body)-1] = '\n'
	}
	u.length = strconv.Itoa(len(u.body))
	srv := &http.Server{
		Addr:              *listen,
		Handler:           u,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	log.Printf("upstream: listening on %s, %d-byte answers", *listen, *size)
	log.Fatal(srv.ListenAndServe())
}

// upstream is the handler; its counters are safe for concurrent use.
type upstream struct {
	body     []byte
	length   string
	echoAuth bool
	served   atomic.Int64
	withAuth atomic.Int64
}

// stats is the answer of GET /_bench/stats.
type stats struct {
	Requests int64 `json:"requests"`  // requests served, /_bench/stats excluded
	WithAuth int64 `json:"with_auth"` // of those, how many carried X-Auth-User-Id
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/_bench/stats" {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(stats{Requests: u.served.Load(), WithAuth: u.withAuth.Load()})
		return
	}
	u.served.Add(1)
	h := w.Header()
	if id := r.Header.Get("X-Auth-User-Id"); id != "" {
		u.withAuth.Add(1)
		if u.echoAuth {
			h.Set("X-Bench-Auth-User-Id-Len", strconv.Itoa(len(id)))
		}
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", u.length)
	w.WriteHeader(http.StatusOK)
	w.Write(u.body)
}
