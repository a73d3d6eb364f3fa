package warden

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A Warden connected to a bundle URL (bundle-format.md §Caching and
// refresh): it starts from its cache, then the network; polls with
// If-None-Match, jittered, backing off on errors; and writes the cache only
// with a bundle that loaded. The highest version ever loaded is kept in its
// own file, apart from the bundle, so deleting the cached bundle does not
// reopen a rollback.

// Options says where a connected Warden's bundles come from and whose it
// trusts.
type Options struct {
	// URL is the bundle's URL (any static host or CDN).
	URL string
	// Project is the project this Warden serves.
	Project string
	// ProjectKey decrypts the payloads.
	ProjectKey string
	// TrustedKeys maps key_id to an Ed25519 public key (32 bytes, base64url).
	TrustedKeys map[string]string
	// AllowPlain lets plain (unencrypted) bundles load, for development.
	AllowPlain bool
	// CacheDir is where the bundle ({project}.bundle.json) and the highest
	// version ({project}.version) survive restarts; "" means
	// ~/.warden/cache.
	CacheDir string
	// DisableCache keeps nothing on disk: a restart starts with no policies.
	DisableCache bool
	// PollInterval is the time between polls, jittered by ±10 %: 0 means
	// 60 s, a negative value never polls (use Refresh).
	PollInterval time.Duration
	// MaxBackoff is the longest wait between polls after repeated errors
	// (0: 15 minutes).
	MaxBackoff time.Duration
	// FetchTimeout bounds one fetch (0: 10 s).
	FetchTimeout time.Duration
	// HTTPClient fetches the bundle (nil: http.DefaultClient).
	HTTPClient *http.Client
}

// maxBundleBytes bounds what a fetch reads: a bundle is policies, not media.
const maxBundleBytes = 64 << 20

// Fetch outcomes, as Status reports them.
const (
	FetchUpdated     = "updated"
	FetchNotModified = "not-modified"
	FetchUnchanged   = "unchanged"
	FetchFailed      = "failed"
)

// FetchResult is the last fetch of a connected Warden.
type FetchResult struct {
	At time.Time
	// Outcome is FetchUpdated, FetchNotModified, FetchUnchanged or
	// FetchFailed.
	Outcome string
}

// StatusError is the last bundle error a Warden met.
type StatusError struct {
	Code    string
	Message string
	At      time.Time
}

// Status is what a Warden knows of its bundles.
type Status struct {
	// Version is the version of the bundle in force (0: none has loaded;
	// then every check denies).
	Version int64
	// Source is where the bundle in force came from ("" : none).
	Source   Source
	LoadedAt time.Time
	// HighestVersion is the highest version ever loaded: nothing older loads
	// again.
	HighestVersion int64
	LastFetch      *FetchResult
	LastError      *StatusError
}

type bundleClient struct {
	w      *Warden
	o      Options
	trust  Trust
	cache  *diskCache
	client *http.Client

	fetchMu  sync.Mutex // one fetch at a time; guards etag and failures
	etag     string
	failures int

	statusMu  sync.Mutex
	lastFetch *FetchResult
	lastError *StatusError

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

func bundleKey(project string) string  { return project + ".bundle.json" }
func versionKey(project string) string { return project + ".version" }

// Connect returns a Warden that enforces a project's signed bundles from
// o.URL. It loads its cache first (offline, the last good bundle), then
// fetches once, then polls in the background until Close (a connected
// Warden that is never closed polls for the life of the process). Until a bundle
// loads, every check denies; a fetch that fails or a bundle that is refused
// is not an error of Connect but shows in Status (and OnError). ctx bounds
// the first fetch.
//
//	w, err := warden.Connect(ctx, warden.Options{
//		URL:         "https://cdn.example.com/proj_support.bundle.json",
//		Project:     "proj_support",
//		ProjectKey:  os.Getenv("WARDEN_PROJECT_KEY"),
//		TrustedKeys: map[string]string{"k1": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
//	})
//	defer w.Close()
func Connect(ctx context.Context, o Options, opts ...Option) (*Warden, error) {
	if o.URL == "" {
		return nil, newError(ErrOptionsInvalid, "Connect needs the bundle's URL")
	}
	if !validID(o.Project) {
		return nil, newError(ErrOptionsInvalid, "the project must be 1 to 128 of A-Z a-z 0-9 . _ -")
	}
	for id, key := range o.TrustedKeys {
		if _, ok := publicKey(key); !ok {
			return nil, newError(ErrOptionsInvalid, "trusted key `%s` must be 32 bytes of Ed25519 public key in base64url", id)
		}
	}
	w, err := New(opts...)
	if err != nil {
		return nil, err
	}
	c := &bundleClient{
		w: w, o: o, client: o.HTTPClient,
		trust: Trust{Project: o.Project, TrustedKeys: o.TrustedKeys, ProjectKey: o.ProjectKey, AllowPlain: o.AllowPlain},
		stop:  make(chan struct{}), done: make(chan struct{}),
	}
	if c.client == nil {
		c.client = http.DefaultClient
	}
	if !o.DisableCache {
		dir := o.CacheDir
		if dir == "" {
			if dir, err = defaultCacheDir(); err != nil {
				return nil, newError(ErrOptionsInvalid, "no cache folder: %v (set CacheDir or DisableCache)", err)
			}
		}
		c.cache = &diskCache{dir: dir}
	}
	w.client = c
	c.loadCache(ctx)
	_ = c.refresh(ctx)
	if o.PollInterval >= 0 {
		go c.poll()
	} else {
		close(c.done)
	}
	return w, nil
}

func (c *bundleClient) warn(ctx context.Context, message string) {
	c.w.settings.logger.WarnContext(ctx, "warden: "+message)
}

func (c *bundleClient) loadCache(ctx context.Context) {
	if c.cache == nil {
		return
	}
	project := c.o.Project
	if floor, ok, err := c.cache.get(versionKey(project)); err != nil {
		c.warn(ctx, fmt.Sprintf("the highest version recorded in the cache cannot be read: %v", err))
	} else if ok {
		n, err := strconv.ParseInt(strings.TrimSpace(string(floor)), 10, 64)
		if err != nil || n < 0 || n > maxSafeInteger {
			c.warn(ctx, fmt.Sprintf("the highest version recorded in the cache is unreadable (%q): it is ignored", truncate(string(floor), 40)))
		} else {
			c.w.raiseFloor(n)
		}
	}
	text, ok, err := c.cache.get(bundleKey(project))
	if err != nil {
		c.warn(ctx, fmt.Sprintf("the cached bundle cannot be read: %v", err))
		return
	}
	if !ok {
		return
	}
	if _, err := c.w.acceptBundle(ctx, text, c.trust, SourceCache); err != nil {
		c.warn(ctx, fmt.Sprintf("the cached bundle is ignored: %s: %s", Code(err), message(err)))
		c.record(err, SourceCache)
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// message is an error's text without its code.
func message(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

func (c *bundleClient) record(err error, source Source) {
	code := Code(err)
	if code == "" {
		code = ErrBundleFormat
	}
	c.statusMu.Lock()
	c.lastError = &StatusError{Code: code, Message: message(err), At: time.Now()}
	c.statusMu.Unlock()
	if c.w.settings.onError != nil {
		c.w.settings.onError(BundleFailure{Err: err, Source: source})
	}
}

func (c *bundleClient) setFetch(outcome string, at time.Time) {
	c.statusMu.Lock()
	c.lastFetch = &FetchResult{At: at, Outcome: outcome}
	c.statusMu.Unlock()
}

// refresh fetches the bundle once, after any fetch already running; the
// error is this fetch's (nil when a bundle loaded or nothing changed).
func (c *bundleClient) refresh(ctx context.Context) error {
	c.fetchMu.Lock()
	defer c.fetchMu.Unlock()
	timeout := c.o.FetchTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	at := time.Now()
	text, etag, notModified, err := c.fetch(ctx)
	if err != nil {
		return c.failed(at, err)
	}
	if notModified {
		c.setFetch(FetchNotModified, at)
		c.failures = 0
		return nil
	}
	result, err := c.w.acceptBundle(ctx, text, c.trust, SourceNetwork)
	if err != nil {
		// Refused: the bundle in force and the cache stay as they are.
		return c.failed(at, err)
	}
	c.etag = etag
	c.failures = 0
	if result.Changed {
		c.setFetch(FetchUpdated, at)
	} else {
		c.setFetch(FetchUnchanged, at)
	}
	if c.cache != nil && result.Changed {
		// The floor first: a crash between the two writes can only refuse
		// an old cache, never reopen a rollback.
		highest := c.w.Status().HighestVersion
		err := c.cache.set(versionKey(c.o.Project), []byte(strconv.FormatInt(highest, 10)))
		if err == nil {
			err = c.cache.set(bundleKey(c.o.Project), text)
		}
		if err != nil {
			c.warn(ctx, fmt.Sprintf("the bundle loaded but could not be cached: %v", err))
		}
	}
	return nil
}

func (c *bundleClient) fetch(ctx context.Context) (text []byte, etag string, notModified bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.o.URL, nil)
	if err != nil {
		return nil, "", false, newError(ErrBundleFetch, "fetching %s failed: %v", c.o.URL, err)
	}
	if c.etag != "" {
		req.Header.Set("If-None-Match", c.etag)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, "", false, newError(ErrBundleFetch, "fetching %s failed: %v", c.o.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return nil, "", true, nil
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, "", false, newError(ErrBundleFetch, "fetching %s answered HTTP %d", c.o.URL, resp.StatusCode)
	}
	text, err = io.ReadAll(io.LimitReader(resp.Body, maxBundleBytes+1))
	if err != nil {
		return nil, "", false, newError(ErrBundleFetch, "fetching %s failed: %v", c.o.URL, err)
	}
	if len(text) > maxBundleBytes {
		return nil, "", false, newError(ErrBundleFetch, "fetching %s: the bundle is larger than %d bytes", c.o.URL, maxBundleBytes)
	}
	return text, resp.Header.Get("ETag"), false, nil
}

func (c *bundleClient) failed(at time.Time, err error) error {
	c.setFetch(FetchFailed, at)
	c.failures++
	c.record(err, SourceNetwork)
	return err
}

// poll fetches at the interval, jittered by ±10 %, backing off
// exponentially after errors, until Close.
func (c *bundleClient) poll() {
	defer close(c.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-c.stop
		cancel()
	}()
	for {
		timer := time.NewTimer(c.nextDelay())
		select {
		case <-c.stop:
			timer.Stop()
			return
		case <-timer.C:
		}
		_ = c.refresh(ctx)
	}
}

func (c *bundleClient) nextDelay() time.Duration {
	interval := c.o.PollInterval
	if interval == 0 {
		interval = 60 * time.Second
	}
	maxBackoff := c.o.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = 15 * time.Minute
	}
	c.fetchMu.Lock()
	failures := c.failures
	c.fetchMu.Unlock()
	base := float64(interval)
	if failures > 0 {
		base = min(float64(maxBackoff), base*math.Pow(2, float64(min(failures, 20))))
	}
	return time.Duration(base * (0.9 + 0.2*rand.Float64()))
}

func (c *bundleClient) close() {
	c.closeOnce.Do(func() { close(c.stop) })
	<-c.done
}

// Refresh fetches the bundle now (a Warden made by Connect) and returns the
// status after it; the error is this fetch's: the bundle refused (an *Error
// with its code) or unreachable (ERR_BUNDLE_FETCH). The bundle in force
// stays on any error.
func (w *Warden) Refresh(ctx context.Context) (Status, error) {
	if w.client == nil {
		return w.Status(), newError(ErrNotConnected, "Refresh needs a Warden made by Connect")
	}
	err := w.client.refresh(ctx)
	return w.Status(), err
}

// Status returns the bundle in force, where it came from, the last fetch and
// the last error.
func (w *Warden) Status() Status {
	w.mu.Lock()
	s := Status{Version: w.st.Load().version, Source: w.source, LoadedAt: w.loadedAt, HighestVersion: w.highest}
	w.mu.Unlock()
	if c := w.client; c != nil {
		c.statusMu.Lock()
		if c.lastFetch != nil {
			f := *c.lastFetch
			s.LastFetch = &f
		}
		if c.lastError != nil {
			e := *c.lastError
			s.LastError = &e
		}
		c.statusMu.Unlock()
	}
	return s
}

// Close stops polling (a Warden made by Connect) and waits for a fetch in
// progress to end. The bundle in force stays, and checks go on deciding.
func (w *Warden) Close() {
	if w.client != nil {
		w.client.close()
	}
}
