// pgdc-clientgo-peer: a reference peer for the HA benchmark (issue #5).
//
// It runs Kubernetes client-go's own leader elector
// (k8s.io/client-go/tools/leaderelection with a resourcelock.LeaseLock and
// ReleaseOnCancel) unchanged, and reports leadership the way pgdog-control
// does, so one checker can parse both:
//
//	<RFC3339 UTC, microseconds>Z info [core] ready: leading with epoch <lease uid>/<leaseTransitions>
//	<RFC3339 UTC, microseconds>Z info [core] not ready: role follower, holder "<id>"
//
// Readiness (/readyz 200) spans exactly client-go's OnStartedLeading ..
// OnStoppedLeading, i.e. client-go's own semantics: OnStoppedLeading runs after
// the release PUT, so a graceful handover ends readiness after the Lease was
// already blanked. That is what the benchmark is meant to measure; do not
// "fix" it here.
//
// SIGTERM/SIGINT cancel the elector's context: a leader releases the Lease
// (ReleaseOnCancel) and the process exits 0. A leader that loses the Lease
// (renew deadline passed) exits 3, as kube-controller-manager does, unless
// --recontend is given, which runs the elector again (a fresh LeaderElector
// with the same identity).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

// logLine writes one line in pgdog-control's text log shape. ts is passed in
// so a line can carry the moment an event happened rather than when it was
// printed (the epoch GET runs after readiness already turned true).
var logMu sync.Mutex

func logAt(ts time.Time, level, tag, msg string) {
	logMu.Lock()
	defer logMu.Unlock()
	fmt.Fprintf(os.Stderr, "%s %s [%s] %s\n", ts.UTC().Format("2006-01-02T15:04:05.000000Z"), level, tag, msg)
}

func logf(level, tag, format string, a ...any) {
	logAt(time.Now(), level, tag, fmt.Sprintf(format, a...))
}

// counters of API requests made through the elector's client, by method and
// status code ("error" when no response arrived).
type counters struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (c *counters) inc(key string) {
	c.mu.Lock()
	c.m[key]++
	c.mu.Unlock()
}

func (c *counters) snapshot() map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]uint64, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

type countingTransport struct {
	next http.RoundTripper
	c    *counters
}

func (t *countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	code := "error"
	if err == nil {
		code = fmt.Sprint(resp.StatusCode)
	}
	t.c.inc(req.Method + " " + code)
	return resp, err
}

func defaultIdentity() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "peer"
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return host + "_" + hex.EncodeToString(b)
}

// Stamped by build-peer.sh (-ldflags -X): source hash and client-go version.
var (
	version         = "dev"
	clientGoVersion = "unknown"
)

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	kubeconfig := flag.String("kubeconfig", os.Getenv("KUBECONFIG"), "kubeconfig file (default $KUBECONFIG; in-cluster config when empty)")
	namespace := flag.String("namespace", "", "namespace of the Lease (default: the kubeconfig context's namespace, else \"default\")")
	leaseName := flag.String("lease-name", "pgdog-control", "name of the Lease")
	identity := flag.String("identity", "", "holder identity (default <hostname>_<random hex>)")
	leaseDuration := flag.Duration("lease-duration", 15*time.Second, "LeaseDuration (client-go default 15s)")
	renewDeadline := flag.Duration("renew-deadline", 10*time.Second, "RenewDeadline (client-go default 10s)")
	retryPeriod := flag.Duration("retry-period", 2*time.Second, "RetryPeriod (client-go default 2s)")
	listen := flag.String("listen", "", "HTTP address for /readyz, /healthz, /metrics (e.g. 127.0.0.1:0); none when empty")
	requestTimeout := flag.Duration("request-timeout", 0, "rest.Config.Timeout per API request (0: client-go default, none)")
	healthzTimeout := flag.Duration("healthz-timeout", 20*time.Second, "client-go HealthzAdaptor grace past lease expiry before /healthz fails")
	recontend := flag.Bool("recontend", false, "after losing leadership, run the elector again instead of exiting 3")
	klog.InitFlags(nil) // -v etc. for client-go's own klog output (stderr)
	flag.Parse()
	if *showVersion {
		fmt.Printf("pgdc-clientgo-peer %s client-go %s\n", version, clientGoVersion)
		return
	}

	if *identity == "" {
		*identity = defaultIdentity()
	}

	loading := clientcmd.NewDefaultClientConfigLoadingRules()
	loading.ExplicitPath = *kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(loading, &clientcmd.ConfigOverrides{})
	var cfg *rest.Config
	var err error
	if *kubeconfig == "" {
		cfg, err = rest.InClusterConfig()
	} else {
		cfg, err = cc.ClientConfig()
	}
	if err != nil {
		logf("error", "peer", "cannot load client config: %v", err)
		os.Exit(2)
	}
	if *namespace == "" {
		if ns, _, err := cc.Namespace(); err == nil && ns != "" {
			*namespace = ns
		} else {
			*namespace = "default"
		}
	}
	cfg.Timeout = *requestTimeout
	cfg.UserAgent = "pgdc-clientgo-peer"
	reqs := &counters{m: map[string]uint64{}}
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper { return &countingTransport{next: rt, c: reqs} })
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		logf("error", "peer", "cannot create client: %v", err)
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	var leading atomic.Bool
	var starts, stops atomic.Uint64
	var leader atomic.Value // last observed holder
	leader.Store("")
	watchdog := leaderelection.NewLeaderHealthzAdaptor(*healthzTimeout)

	if *listen != "" {
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			logf("error", "peer", "cannot listen on %s: %v", *listen, err)
			os.Exit(2)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
			if leading.Load() {
				fmt.Fprintln(w, "ok: leading")
				return
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready: not leading")
		})
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
			if err := watchdog.Check(r); err != nil {
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprintln(w, err)
				return
			}
			fmt.Fprintln(w, "ok")
		})
		mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			b := 0
			if leading.Load() {
				b = 1
			}
			fmt.Fprintf(w, "# TYPE pgdc_peer_leader gauge\npgdc_peer_leader %d\n", b)
			fmt.Fprintf(w, "# TYPE pgdc_peer_leader_starts_total counter\npgdc_peer_leader_starts_total %d\n", starts.Load())
			fmt.Fprintf(w, "# TYPE pgdc_peer_leader_stops_total counter\npgdc_peer_leader_stops_total %d\n", stops.Load())
			fmt.Fprintf(w, "# TYPE pgdc_peer_api_requests_total counter\n")
			snap := reqs.snapshot()
			keys := make([]string, 0, len(snap))
			for k := range snap {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				method, code, _ := strings.Cut(k, " ")
				fmt.Fprintf(w, "pgdc_peer_api_requests_total{method=%q,code=%q} %d\n", method, code, snap[k])
			}
		})
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logf("error", "peer", "http server: %v", err)
			}
		}()
		defer srv.Close()
		logf("info", "peer", "listening on %s", ln.Addr())
	}

	logf("info", "peer", "identity %q, lease %s/%s, duration %s, renew deadline %s, retry period %s",
		*identity, *namespace, *leaseName, *leaseDuration, *renewDeadline, *retryPeriod)
	logf("info", "core", "not ready: role follower, holder \"\"")

	// epoch reads the Lease after becoming leader (best effort): UID and
	// leaseTransitions, as pgdog-control reports them.
	epoch := func(lctx context.Context) string {
		for i := 0; i < 3; i++ {
			gctx, cancel := context.WithTimeout(lctx, time.Second)
			l, err := client.CoordinationV1().Leases(*namespace).Get(gctx, *leaseName, metav1.GetOptions{})
			cancel()
			if err == nil {
				t := int32(0)
				if l.Spec.LeaseTransitions != nil {
					t = *l.Spec.LeaseTransitions
				}
				return fmt.Sprintf("%s/%d", l.UID, t)
			}
			logf("warn", "peer", "epoch GET failed: %v", err)
			if lctx.Err() != nil {
				break
			}
		}
		return "unknown/0"
	}

	for {
		lock := &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Name: *leaseName, Namespace: *namespace},
			Client:     client.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: *identity},
		}
		var mu sync.Mutex // orders the ready/not-ready lines of one term
		led := false
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock:            lock,
			Name:            *leaseName,
			LeaseDuration:   *leaseDuration,
			RenewDeadline:   *renewDeadline,
			RetryPeriod:     *retryPeriod,
			ReleaseOnCancel: true,
			WatchDog:        watchdog,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(lctx context.Context) {
					mu.Lock()
					defer mu.Unlock()
					ts := time.Now()
					leading.Store(true)
					led = true
					starts.Add(1)
					// The line carries ts, the moment readiness turned true.
					logAt(ts, "info", "core", "ready: leading with epoch "+epoch(lctx))
				},
				OnStoppedLeading: func() {
					mu.Lock()
					defer mu.Unlock()
					if !led {
						return // client-go calls this even when we never led
					}
					leading.Store(false)
					stops.Add(1)
					why := ""
					if ctx.Err() != nil {
						why = ", shutting down"
					}
					logf("info", "core", "not ready: role follower, holder %q%s", leader.Load().(string), why)
				},
				OnNewLeader: func(id string) {
					leader.Store(id)
					logf("info", "peer", "observed leader %q", id)
				},
			},
		})
		if ctx.Err() != nil {
			logf("info", "peer", "stopped (signal); exiting")
			os.Exit(0)
		}
		if !*recontend {
			logf("error", "peer", "lost leadership; exiting (use --recontend to run again)")
			os.Exit(3)
		}
		logf("warn", "peer", "lost leadership; contending again")
	}
}
