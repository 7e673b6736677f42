// Peer load generator: Go net/http + golang.org/x/oauth2/clientcredentials.
// Contract: benchmarks/peers/README.md. Builds in GOPATH mode (Debian's x/oauth2):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode go build -o loadgen loadgen.go
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

const contender = "go-net-http"

// Exit codes shared by the three peers.
const (
	exitUsage       = 2
	exitUnreachable = 3
	exitTimeout     = 4
)

var graphqlBody = []byte(`{"query":"query { me { id } }"}`)

type options struct {
	url          string
	requests     int
	workspaces   int
	connections  int
	inFlight     int
	http2        bool
	caFile       string
	clientID     string
	clientSecret string
	redirectURI  string
	timeout      time.Duration
}

func usageError(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "loadgen: "+format+"\n", a...)
	os.Exit(exitUsage)
}

func parseOptions() options {
	var o options
	var timeoutS float64
	var http2Mode string
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.StringVar(&o.url, "url", "", "origin, e.g. http://127.0.0.1:8080 (required)")
	fs.IntVar(&o.requests, "requests", 0, "number of GraphQL calls (required)")
	fs.IntVar(&o.workspaces, "workspaces", 0, "number of workspaces (required)")
	fs.IntVar(&o.connections, "connections", 0, "pool size, and workers unless --in-flight (required)")
	fs.IntVar(&o.inFlight, "in-flight", 0, "concurrent workers (default: --connections)")
	fs.StringVar(&http2Mode, "http2", "off", "auto: offer h2 by ALPN over TLS; off: HTTP/1.1 only")
	fs.StringVar(&o.caFile, "ca-file", "", "PEM CA to trust for https")
	fs.StringVar(&o.clientID, "client-id", "bench-client", "OAuth2 client id")
	fs.StringVar(&o.clientSecret, "client-secret", "bench-secret", "OAuth2 client secret")
	fs.StringVar(&o.redirectURI, "redirect-uri", "", "sent as redirect_uri in token requests when given")
	fs.Float64Var(&timeoutS, "timeout-s", 300, "bound on the whole run, seconds")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(exitUsage) // flag already printed the reason
	}
	if fs.NArg() > 0 {
		usageError("unexpected argument %q", fs.Arg(0))
	}
	u, err := url.Parse(o.url)
	if o.url == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		usageError("--url must be an http:// or https:// URL, got %q", o.url)
	}
	o.url = strings.TrimRight(o.url, "/")
	if o.inFlight == 0 {
		o.inFlight = o.connections
	}
	if http2Mode != "auto" && http2Mode != "off" {
		usageError("--http2 takes auto or off, got %q", http2Mode)
	}
	o.http2 = http2Mode == "auto"
	for _, f := range []struct {
		name string
		v    int
	}{{"requests", o.requests}, {"workspaces", o.workspaces}, {"connections", o.connections},
		{"in-flight", o.inFlight}} {
		if f.v < 1 {
			usageError("--%s must be a positive integer", f.name)
		}
	}
	if !(timeoutS > 0) || math.IsInf(timeoutS, 0) {
		usageError("--timeout-s must be a positive number")
	}
	o.timeout = time.Duration(timeoutS * float64(time.Second))
	return o
}

// countingTransport counts the token requests the client makes; it wraps the
// one shared *http.Transport, so token and GraphQL requests share the pool.
type countingTransport struct {
	base  http.RoundTripper
	count atomic.Int64
}

func (t *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.count.Add(1)
	return t.base.RoundTrip(r)
}

// tokenSources holds one ReuseTokenSource per workspace: its mutex is what makes
// concurrent calls for one workspace share a single token request.
type tokenSources struct {
	mu   sync.Mutex
	m    map[string]oauth2.TokenSource
	ctx  context.Context
	base clientcredentials.Config
}

func (s *tokenSources) get(ws string) oauth2.TokenSource {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, ok := s.m[ws]
	if !ok {
		cfg := s.base
		cfg.EndpointParams = url.Values{"subject": {ws}}
		if s.base.EndpointParams != nil {
			for k, v := range s.base.EndpointParams {
				cfg.EndpointParams[k] = v
			}
		}
		ts = cfg.TokenSource(s.ctx)
		s.m[ws] = ts
	}
	return ts
}

func main() {
	o := parseOptions()
	deadline := time.Now().Add(o.timeout)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()

	transport := &http.Transport{
		Proxy:               nil, // only ever talk to the given origin
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        o.connections,
		MaxIdleConnsPerHost: o.connections,
		MaxConnsPerHost:     o.connections,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		// With a custom TLS config (--ca-file) net/http offers h2 only when asked to; false
		// keeps it on HTTP/1.1. Over HTTP/2 a connection carries up to the server's
		// MAX_CONCURRENT_STREAMS requests, and MaxConnsPerHost still caps the connections.
		ForceAttemptHTTP2: o.http2,
	}
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			usageError("cannot read --ca-file: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			usageError("--ca-file %s holds no PEM certificate", o.caFile)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	client := &http.Client{Transport: transport}
	tokenRT := &countingTransport{base: transport}
	tokenClient := &http.Client{Transport: tokenRT}

	preflight(ctx, client, o.url)

	sources := &tokenSources{
		m:   make(map[string]oauth2.TokenSource, o.workspaces),
		ctx: context.WithValue(ctx, oauth2.HTTPClient, tokenClient),
		base: clientcredentials.Config{
			ClientID:     o.clientID,
			ClientSecret: o.clientSecret,
			TokenURL:     o.url + "/oauth/token",
			AuthStyle:    oauth2.AuthStyleInParams,
		},
	}
	if o.redirectURI != "" {
		sources.base.EndpointParams = url.Values{"redirect_uri": {o.redirectURI}}
	}
	wsNames := make([]string, o.workspaces)
	for i := range wsNames {
		wsNames[i] = "wks_bench" + strconv.Itoa(i)
	}
	graphqlURL := o.url + "/public/graphql"

	// Per-call results written once by the goroutine that owns call k; atomics so
	// that a timed-out main goroutine can read them while calls are in flight.
	latNs := make([]int64, o.requests)
	state := make([]uint32, o.requests) // 0 pending, 1 ok, 2 failed
	lastEnd := make([]time.Time, o.inFlight)
	var next atomic.Int64
	var http2Calls atomic.Int64 // answers that came over HTTP/2
	var wg sync.WaitGroup

	start := time.Now()
	for w := 0; w < o.inFlight; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= o.requests {
					return
				}
				t0 := time.Now()
				err := call(ctx, client, sources.get(wsNames[k%o.workspaces]), graphqlURL, &http2Calls)
				t1 := time.Now()
				atomic.StoreInt64(&latNs[k], int64(t1.Sub(t0)))
				if err != nil {
					atomic.StoreUint32(&state[k], 2)
				} else {
					atomic.StoreUint32(&state[k], 1)
				}
				lastEnd[w] = t1
			}
		}(w)
	}

	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	timedOut := false
	select {
	case <-done:
	case <-time.After(time.Until(deadline)):
		timedOut = true
	}

	end := time.Now()
	if !timedOut {
		end = start
		for _, t := range lastEnd {
			if t.After(end) {
				end = t
			}
		}
	}
	var lats []float64
	failures := 0
	for k := range state {
		switch atomic.LoadUint32(&state[k]) {
		case 0: // never finished: counted as failed
			failures++
			continue
		case 2:
			failures++
		}
		lats = append(lats, float64(atomic.LoadInt64(&latNs[k]))/1e6)
	}
	report(o.requests, failures, tokenRT.count.Load(), http2Calls.Load(), end.Sub(start).Seconds(), lats)
	if timedOut {
		fmt.Fprintf(os.Stderr, "loadgen: timed out after %v; unfinished calls counted as failures\n", o.timeout)
		os.Exit(exitTimeout)
	}
}

// preflight fails fast (exit 3) when the origin cannot be reached or its TLS
// certificate is not trusted; any HTTP answer will do.
func preflight(ctx context.Context, client *http.Client, origin string) {
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(pctx, http.MethodGet, origin+"/", nil)
	resp, err := client.Do(req)
	if err != nil {
		fmt.Fprintf(os.Stderr, "loadgen: origin %s unreachable: %v\n", origin, err)
		os.Exit(exitUnreachable)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func call(ctx context.Context, client *http.Client, ts oauth2.TokenSource, graphqlURL string, http2Calls *atomic.Int64) error {
	tok, err := ts.Token()
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, graphqlURL, bytes.NewReader(graphqlBody))
	if err != nil {
		return err
	}
	tok.SetAuthHeader(req)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.ProtoMajor == 2 {
		http2Calls.Add(1)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("graphql: HTTP %d", resp.StatusCode)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		return err
	}
	if _, ok := doc["data"]; !ok {
		return errors.New("graphql: no data")
	}
	if _, ok := doc["errors"]; ok {
		return errors.New("graphql: errors")
	}
	return nil
}

// report prints the contract's one-line JSON summary; percentiles are nearest-rank
// over the calls that finished (successful or not).
func report(n, failures int, tokenRequests, http2Calls int64, wall float64, lats []float64) {
	sort.Float64s(lats)
	pct := func(p float64) any {
		if len(lats) == 0 {
			return nil
		}
		i := int(math.Ceil(p/100*float64(len(lats)))) - 1
		if i < 0 {
			i = 0
		}
		return round(lats[i], 4)
	}
	reqS := 0.0
	if wall > 0 {
		reqS = float64(n) / wall
	}
	out, _ := json.Marshal(struct {
		Contender     string  `json:"contender"`
		Requests      int     `json:"requests"`
		Failures      int     `json:"failures"`
		TokenRequests int64   `json:"token_requests"`
		WallS         float64 `json:"wall_s"`
		ReqS          float64 `json:"req_s"`
		P50           any     `json:"p50_ms"`
		P99           any     `json:"p99_ms"`
		HTTP2Calls    int64   `json:"http2_calls"`
	}{contender, n, failures, tokenRequests, round(wall, 6), round(reqS, 1), pct(50), pct(99), http2Calls})
	fmt.Println(string(out))
}

func round(x float64, digits int) float64 {
	f := math.Pow(10, float64(digits))
	return math.Round(x*f) / f
}
