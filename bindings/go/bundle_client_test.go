package warden

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

// Connect against a real HTTP server on 127.0.0.1, with bundles signed by
// the shared test keys: what a runtime must do with every bundle it is
// served, online and off (as bindings/node/src/bundle-client.test.ts).

// bundleHost serves body with an ETag, answers If-None-Match with 304 and
// records what it saw.
type bundleHost struct {
	mu       sync.Mutex
	body     []byte
	requests []hostRequest
	server   *httptest.Server
	addr     string
}

type hostRequest struct {
	ifNoneMatch string
	status      int
}

func (h *bundleHost) setBody(b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.body = b
}

func (h *bundleHost) last() hostRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests[len(h.requests)-1]
}

func (h *bundleHost) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	defer h.mu.Unlock()
	sum := sha256.Sum256(h.body)
	etag := `"` + hex.EncodeToString(sum[:8]) + `"`
	status := http.StatusOK
	if r.Header.Get("If-None-Match") == etag {
		status = http.StatusNotModified
	}
	h.requests = append(h.requests, hostRequest{r.Header.Get("If-None-Match"), status})
	rw.Header().Set("ETag", etag)
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	if status == http.StatusOK {
		_, _ = rw.Write(h.body)
	}
}

// start serves on 127.0.0.1, on addr when given (a restart on the same port).
func (h *bundleHost) start(t *testing.T, addr string) {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	h.server = httptest.NewUnstartedServer(h)
	h.server.Listener = l
	h.server.Start()
	h.addr = l.Addr().String()
	t.Cleanup(h.stop)
}

func (h *bundleHost) stop() {
	if h.server != nil {
		h.server.Close()
		h.server = nil
	}
}

func (h *bundleHost) url(t *testing.T) string {
	return "http://" + h.addr + "/" + testKeys(t).Project + ".bundle.json"
}

// syncBuffer collects log output from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func connect(t *testing.T, host *bundleHost, cacheDir string, poll time.Duration, opts ...Option) (*Warden, *syncBuffer) {
	t.Helper()
	m := testKeys(t)
	logs := &syncBuffer{}
	opts = append([]Option{WithLogger(slog.New(slog.NewTextHandler(logs, nil)))}, opts...)
	w, err := Connect(bg, Options{
		URL: host.url(t), Project: m.Project, ProjectKey: m.ProjectKey, TrustedKeys: m.TrustedKeys,
		CacheDir: cacheDir, PollInterval: poll, FetchTimeout: 5 * time.Second,
	}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	return w, logs
}

const never = -1

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestConnectLoadsAnswers304AndUpdatesOnRefreshAndOnPoll(t *testing.T) {
	host := &bundleHost{body: testBundle(t, 1, bundleOverrides{})}
	host.start(t, "")
	cache := t.TempDir()
	var updates []int64
	w, _ := connect(t, host, cache, never, OnUpdate(func(u BundleUpdate) {
		if u.Source == SourceNetwork {
			updates = append(updates, u.Version)
		}
	}))
	st := w.Status()
	if st.Version != 1 || st.Source != SourceNetwork || st.HighestVersion != 1 || st.LastFetch == nil || st.LastFetch.Outcome != FetchUpdated || st.LastError != nil {
		t.Fatalf("status %+v", st)
	}
	if !allows(w, 1) {
		t.Fatal("version 1 is not in force")
	}
	project := testKeys(t).Project
	if got := readFile(t, filepath.Join(cache, project+".bundle.json")); got != string(host.body) {
		t.Fatal("the cache does not hold the bundle as served")
	}
	if got := readFile(t, filepath.Join(cache, project+".version")); got != "1" {
		t.Fatalf("the version file holds %q", got)
	}
	entries, _ := os.ReadDir(cache)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if !reflect.DeepEqual(names, []string{project + ".bundle.json", project + ".version"}) {
		t.Fatalf("the cache folder holds %v (temporary files left behind?)", names)
	}

	st, err := w.Refresh(bg)
	if err != nil || st.LastFetch.Outcome != FetchNotModified {
		t.Fatalf("an unchanged bundle: %+v %v", st, err)
	}
	if last := host.last(); last.status != http.StatusNotModified || last.ifNoneMatch == "" {
		t.Fatalf("the last request: %+v", last)
	}

	host.setBody(testBundle(t, 2, bundleOverrides{}))
	st, err = w.Refresh(bg)
	if err != nil || st.Version != 2 || st.LastFetch.Outcome != FetchUpdated {
		t.Fatalf("version 2: %+v %v", st, err)
	}
	if !allows(w, 2) || allows(w, 1) {
		t.Fatal("version 2 is not in force")
	}
	if !reflect.DeepEqual(updates, []int64{1, 2}) {
		t.Fatalf("updates %v", updates)
	}

	// Polling: a Warden that polls every 20 ms picks up version 3 by itself.
	polled := make(chan int64, 16)
	connect(t, host, t.TempDir(), 20*time.Millisecond, OnUpdate(func(u BundleUpdate) { polled <- u.Version }))
	if v := <-polled; v != 2 {
		t.Fatalf("the first load: %d", v)
	}
	host.setBody(testBundle(t, 3, bundleOverrides{}))
	select {
	case v := <-polled:
		if v != 3 {
			t.Fatalf("polled version %d", v)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("polling never loaded version 3")
	}
	if !reflect.DeepEqual(updates, []int64{1, 2}) {
		t.Fatalf("the first Warden does not poll, yet got %v", updates)
	}
}

func TestConnectKeepsTheBundleAndCacheWhenTheServerIsDownOrServesABadBundle(t *testing.T) {
	host := &bundleHost{body: testBundle(t, 5, bundleOverrides{})}
	host.start(t, "")
	cache := t.TempDir()
	var mu sync.Mutex
	var codes []string
	w, _ := connect(t, host, cache, never, OnError(func(f BundleFailure) {
		mu.Lock()
		defer mu.Unlock()
		codes = append(codes, Code(f.Err))
	}))
	cacheFile := filepath.Join(cache, testKeys(t).Project+".bundle.json")
	cached := readFile(t, cacheFile)
	k2 := signingKey(t, "k2")
	tampered := edit(t, testBundle(t, 6, bundleOverrides{}), func(m map[string]any) {
		p := m["payload"].(string)
		c := "A"
		if strings.HasSuffix(p[:len(p)-1], "A") {
			c = "B"
		}
		m["payload"] = p[:len(p)-2] + c + p[len(p)-1:]
	})
	served := []struct {
		body []byte
		code string
	}{
		{testBundle(t, 6, bundleOverrides{key: k2}), ErrBundleSignature},
		{tampered, ErrBundleSignature},
		{testBundle(t, 4, bundleOverrides{}), ErrBundleStale},
		{testBundle(t, 7, bundleOverrides{project: "proj_other"}), ErrBundleProject},
		{testBundle(t, 7, bundleOverrides{projectKey: "not-the-project-key"}), ErrBundleDecrypt},
		{testBundle(t, 7, bundleOverrides{keyID: "k9"}), ErrBundleUnknownKey},
		{[]byte(`{"format": "warden-bundle-1"`), ErrBundleFormat},
	}
	var want []string
	for _, s := range served {
		host.setBody(s.body)
		st, err := w.Refresh(bg)
		if Code(err) != s.code || st.LastError == nil || st.LastError.Code != s.code {
			t.Errorf("want %s, got %v (status %+v)", s.code, err, st.LastError)
		}
		if st.Version != 5 || !allows(w, 5) {
			t.Fatalf("%s: the bundle in force changed", s.code)
		}
		if readFile(t, cacheFile) != cached {
			t.Fatalf("%s: the cache changed", s.code)
		}
		want = append(want, s.code)
	}
	mu.Lock()
	if !reflect.DeepEqual(codes, want) {
		t.Errorf("OnError saw %v", codes)
	}
	mu.Unlock()

	host.stop()
	st, err := w.Refresh(bg)
	if Code(err) != ErrBundleFetch || st.LastError.Code != ErrBundleFetch || st.LastFetch.Outcome != FetchFailed {
		t.Fatalf("the server down: %+v %v", st, err)
	}
	if !allows(w, 5) {
		t.Fatal("the bundle in force changed")
	}
}

func TestConnectStartsOfflineFromItsCacheIgnoresATruncatedOneAndNeverRollsBack(t *testing.T) {
	host := &bundleHost{body: testBundle(t, 8, bundleOverrides{})}
	host.start(t, "")
	cache := t.TempDir()
	connect(t, host, cache, never)
	host.stop()

	// Restarted with the server down: the cached bundle decides.
	offline, _ := connect(t, host, cache, never)
	st := offline.Status()
	if st.Version != 8 || st.Source != SourceCache || st.LastFetch == nil || st.LastFetch.Outcome != FetchFailed {
		t.Fatalf("offline: %+v", st)
	}
	if !allows(offline, 8) {
		t.Fatal("the cached bundle does not decide")
	}

	// A truncated cache file is ignored, with a warning, never loaded and never fatal.
	file := filepath.Join(cache, testKeys(t).Project+".bundle.json")
	whole := readFile(t, file)
	if err := os.WriteFile(file, []byte(whole[:len(whole)/2]), 0o600); err != nil {
		t.Fatal(err)
	}
	truncated, logs := connect(t, host, cache, never)
	if v := truncated.Status().Version; v != 0 {
		t.Fatalf("a truncated cache loaded version %d", v)
	}
	if !strings.Contains(logs.String(), "the cached bundle is ignored: ERR_BUNDLE_FORMAT") {
		t.Fatalf("no warning: %s", logs.String())
	}
	d := truncated.Check(bg, Request{Action: "tool.call", Resource: "tool/v8"})
	if d.Allowed || d.Reason != "no policies have loaded yet, so every request is denied" {
		t.Fatalf("with nothing loaded: %+v", d)
	}

	// The cache deleted and an older signed bundle served: still refused.
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(cache, testKeys(t).Project+".version")); err != nil {
		t.Fatal(err)
	}
	host.setBody(testBundle(t, 3, bundleOverrides{}))
	host.start(t, host.addr)
	rolledBack, _ := connect(t, host, cache, never)
	st = rolledBack.Status()
	if st.Version != 0 || st.HighestVersion != 8 || st.LastError == nil || st.LastError.Code != ErrBundleStale {
		t.Fatalf("a rollback: %+v %+v", st, st.LastError)
	}
	if allows(rolledBack, 3) {
		t.Fatal("version 3 is in force")
	}
}

func TestConnectRefusesOptionsItCannotWorkWith(t *testing.T) {
	m := testKeys(t)
	for _, o := range []Options{
		{Project: m.Project, TrustedKeys: m.TrustedKeys},
		{URL: "http://127.0.0.1:1/x", Project: "proj support", TrustedKeys: m.TrustedKeys},
		{URL: "http://127.0.0.1:1/x", Project: m.Project, TrustedKeys: map[string]string{"k1": "short"}},
	} {
		if _, err := Connect(bg, o); Code(err) != ErrOptionsInvalid {
			t.Errorf("%+v: %v", o, err)
		}
	}
	w, _ := New()
	if _, err := w.Refresh(bg); Code(err) != ErrNotConnected {
		t.Errorf("Refresh without Connect: %v", err)
	}
	w.Close()
}

func TestBackoffDoublesAfterErrorsUpToTheMaximum(t *testing.T) {
	c := &bundleClient{o: Options{PollInterval: time.Second, MaxBackoff: 10 * time.Second}}
	for _, x := range []struct {
		failures int
		base     time.Duration
	}{{0, time.Second}, {1, 2 * time.Second}, {3, 8 * time.Second}, {4, 10 * time.Second}, {100, 10 * time.Second}} {
		c.failures = x.failures
		for i := 0; i < 20; i++ {
			d := c.nextDelay()
			if d < x.base*9/10 || d > x.base*11/10 {
				t.Fatalf("%d failures: %v, want %v ±10 %%", x.failures, d, x.base)
			}
		}
	}
}

func TestAnUnreadableVersionFileIsIgnoredWithAWarning(t *testing.T) {
	host := &bundleHost{body: testBundle(t, 2, bundleOverrides{})}
	host.start(t, "")
	cache := t.TempDir()
	if err := os.WriteFile(filepath.Join(cache, testKeys(t).Project+".version"), []byte("eight"), 0o600); err != nil {
		t.Fatal(err)
	}
	w, logs := connect(t, host, cache, never)
	if !strings.Contains(logs.String(), "the highest version recorded in the cache is unreadable") {
		t.Fatalf("no warning: %s", logs.String())
	}
	if st := w.Status(); st.Version != 2 || st.HighestVersion != 2 {
		t.Fatalf("%+v", st)
	}
	if got := readFile(t, filepath.Join(cache, testKeys(t).Project+".version")); got != "2" {
		t.Fatalf("the version file holds %q", got)
	}
}
