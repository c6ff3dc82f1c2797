// fleetload simulates PgDog nodes against a pgdog-control daemon at PgDog's
// intervals: register once, metrics every second, query stats, active
// queries and errors every five seconds, and one command long poll always
// open (acknowledging what it receives). Optionally an admin issues a
// command to every deployment at a fixed interval, so polls return work.
//
// It prints one JSON object: per request kind the count, errors (by status)
// and client-side latency percentiles, plus command delivery latency
// (issue -> ack seen by the node). Latencies include this process's own
// scheduling delay: on a shared 2-core machine they are an upper bound.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

type stats struct {
	mu        sync.Mutex
	latencies map[string][]time.Duration
	errors    map[string]map[string]int
	start     time.Time
	perSecond [][]time.Duration // non-poll latencies by second since start
}

func newStats() *stats {
	return &stats{latencies: map[string][]time.Duration{}, errors: map[string]map[string]int{}}
}

func (s *stats) record(kind string, d time.Duration, status int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || status >= 300 {
		m := s.errors[kind]
		if m == nil {
			m = map[string]int{}
			s.errors[kind] = m
		}
		key := fmt.Sprint(status)
		if err != nil {
			key = "transport"
		}
		m[key]++
		return
	}
	s.latencies[kind] = append(s.latencies[kind], d)
	if kind != "poll" && !s.start.IsZero() {
		sec := int(time.Since(s.start) / time.Second)
		for len(s.perSecond) <= sec {
			s.perSecond = append(s.perSecond, nil)
		}
		s.perSecond[sec] = append(s.perSecond[sec], d)
	}
}

type summary struct {
	Count  int            `json:"count"`
	Errors map[string]int `json:"errors,omitempty"`
	P50Ms  float64        `json:"p50_ms"`
	P90Ms  float64        `json:"p90_ms"`
	P99Ms  float64        `json:"p99_ms"`
	MaxMs  float64        `json:"max_ms"`
}

func summarize(ds []time.Duration, errs map[string]int) summary {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(q float64) float64 {
		if len(ds) == 0 {
			return 0
		}
		i := int(q * float64(len(ds)-1))
		return float64(ds[i].Microseconds()) / 1000
	}
	return summary{Count: len(ds), Errors: errs, P50Ms: at(0.5), P90Ms: at(0.9), P99Ms: at(0.99), MaxMs: at(1)}
}

type config struct {
	base           string
	tokens         []string
	adminToken     string
	nodes          int
	duration       time.Duration
	ramp           time.Duration
	metricsEvery   time.Duration
	uploadsEvery   time.Duration
	pollWait       time.Duration
	issueEvery     time.Duration
	measureFrom    time.Time // requests before this (ramp-up) are not recorded
	queriesPerPost int
}

type node struct {
	cfg      *config
	client   *http.Client
	poller   *http.Client
	id       string
	token    string
	afterSeq uint64
	st       *stats
	acked    *sync.Map // command id -> time the node acked it
	auth     []string
	buf      []byte
}

// do sends one request; body is pre-encoded JSON (nil for none). Only polls
// read the reply; other replies are drained and discarded.
func (n *node) do(ctx context.Context, c *http.Client, kind, method, path string, body []byte, keep bool) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, n.cfg.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header["Authorization"] = n.auth
	if body != nil {
		req.Header["Content-Type"] = jsonType
	}
	start := time.Now()
	resp, err := c.Do(req)
	var data []byte
	status := 0
	if err == nil {
		if keep {
			data, err = io.ReadAll(resp.Body)
		} else {
			_, err = io.Copy(io.Discard, resp.Body)
		}
		resp.Body.Close()
		status = resp.StatusCode
	}
	if ctx.Err() == nil && start.After(n.cfg.measureFrom) {
		n.st.record(kind, time.Since(start), status, err)
	}
	return status, data, err
}

var jsonType = []string{"application/json"}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func (n *node) run(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	for ctx.Err() == nil {
		st, _, err := n.do(ctx, n.client, "register", "POST", "/api/v2/register",
			mustJSON(map[string]string{"node_id": n.id, "version": "0.1.30", "host": n.id + ".pgdog.svc"}), false)
		if err == nil && st < 300 {
			break
		}
		sleep(ctx, time.Second)
	}
	wg.Add(1)
	go n.poll(ctx, wg)
	phase := time.Duration(rand.Int63n(int64(n.cfg.metricsEvery)))
	sleep(ctx, phase)
	tick := time.NewTicker(n.cfg.metricsEvery)
	defer tick.Stop()
	uploadEvery := int(n.cfg.uploadsEvery / n.cfg.metricsEvery)
	if uploadEvery < 1 {
		uploadEvery = 1
	}
	// Uploads are the same for every node and round (their content does not
	// change the daemon's work): encoded once.
	q := make([]map[string]any, n.cfg.queriesPerPost)
	for k := range q {
		q[k] = map[string]any{"query": fmt.Sprintf("SELECT * FROM t%d WHERE id = $1", k),
			"calls": 100 + k, "total_ms": 12.5}
	}
	stats := mustJSON(map[string]any{"node_id": n.id, "query_stats": q})
	active := mustJSON(map[string]any{"node_id": n.id, "active_queries": q[:1]})
	errs := mustJSON(map[string]any{"node_id": n.id, "errors": []map[string]any{}})
	for i := rand.Intn(uploadEvery); ctx.Err() == nil; i++ {
		b := n.buf[:0]
		b = append(b, `{"node_id":"`...)
		b = append(b, n.id...)
		b = append(b, `","clients":`...)
		b = strconv.AppendInt(b, int64(100+rand.Intn(50)), 10)
		b = append(b, `,"servers":`...)
		b = strconv.AppendInt(b, int64(20+rand.Intn(5)), 10)
		b = append(b, `,"pools":4,"qps":`...)
		b = strconv.AppendFloat(b, 1000+rand.Float64()*500, 'f', 2, 64)
		b = append(b, `,"tps":`...)
		b = strconv.AppendFloat(b, 300+rand.Float64()*100, 'f', 2, 64)
		b = append(b, `,"cpu":`...)
		b = strconv.AppendFloat(b, rand.Float64()*100, 'f', 2, 64)
		b = append(b, `,"memory_bytes":209715200}`...)
		n.buf = b
		n.do(ctx, n.client, "metrics", "POST", "/api/v2/metrics", b, false)
		if i%uploadEvery == 0 {
			n.do(ctx, n.client, "query_stats", "POST", "/api/v2/query_stats", stats, false)
			n.do(ctx, n.client, "active_queries", "POST", "/api/v2/active_queries", active, false)
			n.do(ctx, n.client, "errors", "POST", "/api/v2/errors", errs, false)
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
}

type polled struct {
	Commands []struct {
		ID  string `json:"id"`
		Seq uint64 `json:"seq"`
	} `json:"commands"`
}

func (n *node) poll(ctx context.Context, wg *sync.WaitGroup) {
	defer wg.Done()
	for ctx.Err() == nil {
		path := fmt.Sprintf("/api/v2/commands?node_id=%s&after_seq=%d&wait_ms=%d", n.id, n.afterSeq,
			n.cfg.pollWait.Milliseconds())
		st, body, err := n.do(ctx, n.poller, "poll", "GET", path, nil, true)
		if err != nil || st != 200 {
			sleep(ctx, time.Second)
			continue
		}
		var p polled
		if json.Unmarshal(body, &p) != nil {
			n.st.record("poll_body", 0, 0, fmt.Errorf("bad body"))
			continue
		}
		for _, c := range p.Commands {
			if c.Seq > n.afterSeq {
				n.afterSeq = c.Seq
			}
			st, _, err := n.do(ctx, n.client, "ack", "POST", "/api/v2/commands/"+c.ID+"/ack",
				mustJSON(map[string]string{"node_id": n.id, "status": "ok"}), false)
			if err == nil && st < 300 {
				n.acked.LoadOrStore(c.ID+"/"+n.id, time.Now())
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func main() {
	var cfg config
	var tokens string
	flag.StringVar(&cfg.base, "url", "http://127.0.0.1:8080", "daemon base URL")
	flag.StringVar(&tokens, "tokens", "", "comma-separated deployment tokens; nodes are spread over them")
	flag.StringVar(&cfg.adminToken, "admin-token", "", "admin token for issuing commands (with -issue-every)")
	flag.IntVar(&cfg.nodes, "nodes", 100, "simulated PgDog nodes")
	flag.DurationVar(&cfg.duration, "duration", 60*time.Second, "measured time after ramp-up")
	flag.DurationVar(&cfg.ramp, "ramp", 10*time.Second, "ramp-up (registrations spread over it, not measured)")
	flag.DurationVar(&cfg.metricsEvery, "metrics-every", time.Second, "PgDog metrics_interval")
	flag.DurationVar(&cfg.uploadsEvery, "uploads-every", 5*time.Second, "PgDog stats/active queries/errors interval")
	flag.DurationVar(&cfg.pollWait, "poll-wait", 25*time.Second, "long poll wait_ms")
	flag.DurationVar(&cfg.issueEvery, "issue-every", 0, "issue reload_configuration to every deployment this often (0: never)")
	flag.IntVar(&cfg.queriesPerPost, "queries", 10, "query stats entries per upload")
	flag.Parse()
	cfg.tokens = strings.Split(tokens, ",")
	if tokens == "" {
		fmt.Fprintln(os.Stderr, "fleetload: -tokens is required")
		os.Exit(2)
	}
	cfg.measureFrom = time.Now().Add(cfg.ramp)

	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	transport := func() *http.Transport {
		return &http.Transport{DialContext: dialer.DialContext, MaxIdleConns: 0,
			MaxIdleConnsPerHost: cfg.nodes + 16, IdleConnTimeout: 90 * time.Second}
	}
	client := &http.Client{Transport: transport(), Timeout: 10 * time.Second}
	poller := &http.Client{Transport: transport(), Timeout: cfg.pollWait + 10*time.Second}

	st := newStats()
	st.start = cfg.measureFrom
	acked := &sync.Map{}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ramp+cfg.duration)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < cfg.nodes; i++ {
		n := &node{cfg: &cfg, client: client, poller: poller, id: fmt.Sprintf("pgdog-%05d", i),
			token: cfg.tokens[i%len(cfg.tokens)], st: st, acked: acked}
		n.auth = []string{"Bearer " + n.token}
		wg.Add(1)
		go func(delay time.Duration) {
			sleep(ctx, delay)
			n.run(ctx, &wg)
		}(time.Duration(int64(cfg.ramp/2) * int64(i) / int64(cfg.nodes)))
	}

	issued := map[string]time.Time{}
	var issuedMu sync.Mutex
	var issueCount atomic.Int64
	if cfg.issueEvery > 0 && cfg.adminToken != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sleep(ctx, cfg.ramp)
			for ctx.Err() == nil {
				deps := listDeployments(ctx, &cfg, client)
				for _, d := range deps {
					start := time.Now()
					id, err := issue(ctx, &cfg, client, d)
					st.record("issue", time.Since(start), 201, err)
					if err == nil {
						issuedMu.Lock()
						issued[id] = start
						issuedMu.Unlock()
						issueCount.Add(1)
					}
				}
				sleep(ctx, cfg.issueEvery)
			}
		}()
	}
	<-ctx.Done()
	wg.Wait()

	out := map[string]any{"nodes": cfg.nodes, "duration_s": cfg.duration.Seconds()}
	reqs := map[string]summary{}
	total := 0
	st.mu.Lock()
	kinds := map[string]bool{}
	for k := range st.latencies {
		kinds[k] = true
	}
	for k := range st.errors {
		kinds[k] = true
	}
	var all []time.Duration
	for k := range kinds {
		if k != "poll" {
			all = append(all, st.latencies[k]...)
		}
		reqs[k] = summarize(st.latencies[k], st.errors[k])
		total += len(st.latencies[k])
	}
	st.mu.Unlock()
	out["requests"] = reqs
	var worst []float64 // p99 of each second, to find periodic stalls
	for _, ds := range st.perSecond {
		worst = append(worst, summarize(ds, nil).P99Ms)
	}
	out["p99_by_second_ms"] = worst
	out["non_poll"] = summarize(all, nil)
	out["requests_per_sec"] = float64(total) / cfg.duration.Seconds()
	var delivery []time.Duration
	acked.Range(func(key, value any) bool {
		id := strings.SplitN(key.(string), "/", 2)[0]
		issuedMu.Lock()
		t0, ok := issued[id]
		issuedMu.Unlock()
		if ok {
			delivery = append(delivery, value.(time.Time).Sub(t0))
		}
		return true
	})
	out["commands_issued"] = issueCount.Load()
	out["command_issue_to_ack"] = summarize(delivery, nil)
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(out)
}

func listDeployments(ctx context.Context, cfg *config, c *http.Client) []string {
	req, _ := http.NewRequestWithContext(ctx, "GET", cfg.base+"/api/web/deployments", nil)
	req.Header.Set("Authorization", "Bearer "+cfg.adminToken)
	resp, err := c.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var body struct {
		Deployments []struct {
			Name string `json:"name"`
		} `json:"deployments"`
	}
	if json.NewDecoder(resp.Body).Decode(&body) != nil {
		return nil
	}
	var names []string
	for _, d := range body.Deployments {
		names = append(names, d.Name)
	}
	return names
}

func issue(ctx context.Context, cfg *config, c *http.Client, dep string) (string, error) {
	b, _ := json.Marshal(map[string]any{"name": "reload_configuration", "target": "*"})
	req, _ := http.NewRequestWithContext(ctx, "POST", cfg.base+"/api/web/deployments/"+dep+"/commands", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+cfg.adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 201 {
		return "", fmt.Errorf("issue: status %d", resp.StatusCode)
	}
	var cmd struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&cmd); err != nil {
		return "", err
	}
	return cmd.ID, nil
}
