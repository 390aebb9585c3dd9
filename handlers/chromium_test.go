package handlers_test

// The browser tests drive the dashboard in a real headless Chromium
// (Debian's chromium package) through chromedp: one browser for the whole
// test process, started by the first test that needs it and closed by
// TestMain, and a fresh browser context (like a private window: its own
// cookies and storage) for every tab a test opens. Every test serves its
// fixture's real router on a real loopback listener.

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// tabTimeout bounds everything one tab does in a test: a few seconds is
// the norm, a wedged page fails the test instead of hanging it.
const tabTimeout = 45 * time.Second

// screenshotsEnv names the directory the browser tests save screenshots
// of the main pages in (e.g. docs/screenshots); unset, they save nothing.
const screenshotsEnv = "SAATHI_SCREENSHOTS"

// Screen sizes of the screenshots: a common phone and a laptop.
var (
	phoneScreen   = [2]int64{390, 844}
	desktopScreen = [2]int64{1280, 800}
)

// chromium is the one browser of this test process.
var chromium struct {
	once   sync.Once
	ctx    context.Context // the browser's chromedp context: tabs are its children
	stop   func()
	err    error
	output lockedBuffer // the browser's own output, shown if it fails to start
}

// TestMain closes the shared browser (and removes its profile directory)
// once every test has run.
func TestMain(m *testing.M) {
	code := m.Run()
	if chromium.stop != nil {
		chromium.stop()
	}
	os.Exit(code)
}

// chromiumPath finds the browser, or returns "".
func chromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browserContext returns the shared browser, starting it on first use. A
// test without a browser skips, except under CI=true, where it fails:
// browser tests never silently skip in CI (like the database tests).
func browserContext(t *testing.T) context.Context {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is required under CI (apt-get install -y chromium)")
		}
		t.Skip("chromium not installed (apt-get install -y chromium); browser tests skipped")
	}
	chromium.once.Do(func() { chromium.ctx, chromium.stop, chromium.err = startChromium(path) })
	if chromium.err != nil {
		t.Fatalf("start %s: %v\n%s", path, chromium.err, chromium.output.String())
	}
	return chromium.ctx
}

// startChromium starts headless Chromium with a fresh temporary profile
// (chromedp makes it and removes it). The machine may have no internet:
// everything the browser would fetch by itself is turned off, or it
// floods the log with refused connections.
func startChromium(path string) (context.Context, func(), error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root, where the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.WindowSize(int(desktopScreen[0]), int(desktopScreen[1])),
		chromedp.CombinedOutput(&chromium.output),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(allocCtx)
	stop := func() {
		closing, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = chromedp.Cancel(closing)
		cancelBrowser()
		cancelAlloc() // waits for the profile directory to go
	}
	if err := chromedp.Do(ctx); err != nil {
		stop()
		return nil, nil, err
	}
	return ctx, stop, nil
}

// site is a fixture's router on a real listener, for the browser to reach.
// Its address is http://127.0.0.1:<port>: the session and CSRF cookies are
// Secure (the fixture's public URL is https), and Chromium keeps Secure
// cookies from loopback addresses, which it counts as secure.
type site struct {
	t   *testing.T
	url string
}

// serve starts the fixture's router (as it is now: set f.echo first) on a
// loopback listener, stopped when the test ends.
func (f *fixture) serve(t *testing.T) *site {
	t.Helper()
	srv := httptest.NewServer(f.echo)
	t.Cleanup(srv.Close)
	return &site{t: t, url: srv.URL}
}

// tab is one browser tab on a site, in a browser context of its own.
type tab struct {
	t    *testing.T
	site *site
	ctx  context.Context
}

// tab opens a new tab in a new browser context (no cookies, nothing
// stored), closed when the test ends.
func (s *site) tab() *tab {
	s.t.Helper()
	ctx, cancel := chromedp.NewContext(browserContext(s.t), chromedp.WithNewBrowserContext())
	s.t.Cleanup(cancel)
	// The first action opens the tab and ties it to ctx: bound the test's
	// actions with a timeout on a child, so a timeout fails an action
	// without closing the tab under the cleanup.
	if err := chromedp.Do(ctx); err != nil {
		s.t.Fatalf("open a tab: %v", err)
	}
	bounded, cancelBounded := context.WithTimeout(ctx, tabTimeout)
	s.t.Cleanup(cancelBounded)
	return &tab{t: s.t, site: s, ctx: bounded}
}

// do runs actions, failing the test with what was being done.
func (tb *tab) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	if err := chromedp.Do(tb.ctx, actions...); err != nil {
		tb.t.Fatalf("%s: %v", what, err)
	}
}

// open goes to a path of the site and returns the HTTP status of the page
// that ends up shown (after redirects).
func (tb *tab) open(path string) int64 {
	tb.t.Helper()
	resp, err := chromedp.Run(tb.ctx, chromedp.NavigateResponse(tb.site.url+path))
	if err != nil {
		tb.t.Fatalf("open %s: %v", path, err)
	}
	return resp.Status
}

// submit clicks a form's button (or a link) and waits for the page that
// follows; it returns that page's HTTP status.
func (tb *tab) submit(sel string) int64 {
	tb.t.Helper()
	resp, err := chromedp.RunResponse(tb.ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("click %s: %v", sel, err)
	}
	return resp.Status
}

// location is the page's path, query and fragment, on the site.
func (tb *tab) location() string {
	tb.t.Helper()
	loc, err := chromedp.Run(tb.ctx, chromedp.Location())
	if err != nil {
		tb.t.Fatalf("location: %v", err)
	}
	u, err := url.Parse(loc)
	if err != nil || !strings.HasPrefix(loc, tb.site.url) {
		tb.t.Fatalf("the tab left the site: %s", loc)
	}
	if u.Fragment != "" {
		return u.RequestURI() + "#" + u.Fragment
	}
	return u.RequestURI()
}

// text is the visible text of the first element matching a CSS selector
// (waiting for it to be there).
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	s, err := chromedp.Run(tb.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		tb.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// count is how many elements match a CSS selector now (no waiting).
func (tb *tab) count(sel string) int {
	tb.t.Helper()
	return evaluate[int](tb, fmt.Sprintf("document.querySelectorAll(%q).length", sel))
}

// evaluate runs a JavaScript expression in the page and decodes its value.
func evaluate[T any](tb *tab, js string, opts ...chromedp.EvaluateOption) T {
	tb.t.Helper()
	v, err := chromedp.Run(tb.ctx, chromedp.Evaluate[T](js, opts...))
	if err != nil {
		tb.t.Fatalf("evaluate %.80s: %v", js, err)
	}
	return v
}

// signIn opens path, which needs a session, is sent to the sign-in form,
// fills it in, presses the button and lands back on path. (It sets the
// fields' values: TestBrowserSignIn types them key by key.)
func (tb *tab) signIn(path, user, password string) {
	tb.t.Helper()
	tb.open(path)
	if loc := tb.location(); !strings.HasPrefix(loc, "/signin?next=") {
		tb.t.Fatalf("%s without a session went to %s, not the sign-in form", path, loc)
	}
	tb.do("fill in the sign-in form",
		chromedp.SetValue(chromedp.ID("username"), user),
		chromedp.SetValue(chromedp.ID("password"), password),
	)
	if status := tb.submit(`form[action="/signin"] button[type=submit]`); status != http.StatusOK {
		tb.t.Fatalf("signed in as %s: HTTP %d: %s", user, status, tb.text("main"))
	}
	if loc := tb.location(); loc != path {
		tb.t.Fatalf("signed in as %s, landed on %s, want %s", user, loc, path)
	}
}

// axeSource is the vendored axe-core (testdata/axe), read once.
var axeSource = sync.OnceValues(func() (string, error) {
	b, err := os.ReadFile(filepath.Join("testdata", "axe", "axe.min.js"))
	return string(b), err
})

// axeViolation is one failed axe rule, with the elements that fail it.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axeRun runs every axe rule on the document and keeps the critical and
// serious violations, each with its elements' selectors.
const axeRun = `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations
  .filter(v => v.impact === "critical" || v.impact === "serious")
  .map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(" "))})))`

// accessible runs axe-core in the page as it is now and fails the test on
// any critical or serious violation, naming the page, the rule and the
// elements.
func (tb *tab) accessible(name string) {
	tb.t.Helper()
	src, err := axeSource()
	if err != nil {
		tb.t.Fatalf("axe-core: %v", err)
	}
	if !evaluate[bool](tb, `typeof axe !== "undefined"`) {
		// Into this document only: the next page loads without it.
		evaluate[chromedp.Void](tb, src)
	}
	for _, v := range evaluate[[]axeViolation](tb, axeRun, chromedp.EvalAwaitPromise) {
		tb.t.Errorf("accessibility, %s page: %s (%s): %s\n\t%s", name, v.ID, v.Impact, v.Help, strings.Join(v.Nodes, "\n\t"))
	}
}

// overflowing lists the innermost elements that stick out past the
// page's right edge (a page that scrolls sideways).
const overflowing = `(() => {
  const w = document.documentElement.clientWidth + 1;
  const out = e => e.getBoundingClientRect().right > w;
  return [...document.querySelectorAll("body *")]
    .filter(e => out(e) && ![...e.children].some(out))
    .slice(0, 5)
    .map(e => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className ? "." + e.className : "") + " (" + Math.round(e.getBoundingClientRect().right) + " px)");
})()`

// review is what every main page gets: axe-core finds no serious
// violation; on a phone's screen nothing sticks out sideways (a page that
// scrolls sideways hides half of every line); and, with
// $SAATHI_SCREENSHOTS set, it is saved as a phone and a laptop show it,
// as <name>-phone.png and <name>-desktop.png (only what fits the screen:
// the top of a long page).
func (tb *tab) review(name string) {
	tb.t.Helper()
	tb.accessible(name)
	tb.do("a phone's screen", chromedp.EmulateViewport(phoneScreen[0], phoneScreen[1], chromedp.EmulateMobile, chromedp.EmulateTouch))
	if wide := evaluate[[]string](tb, overflowing); len(wide) > 0 {
		tb.t.Errorf("the %s page scrolls sideways on a %d px wide phone:\n\t%s", name, phoneScreen[0], strings.Join(wide, "\n\t"))
	}
	if dir := screenshotDir(tb.t); dir != "" {
		tb.save(filepath.Join(dir, name+"-phone.png"))
		tb.do("a laptop's screen", chromedp.EmulateViewport(desktopScreen[0], desktopScreen[1]))
		tb.save(filepath.Join(dir, name+"-desktop.png"))
	}
	tb.do("reset the screen size", chromedp.ResetViewport())
}

// save writes a PNG of what the screen shows.
func (tb *tab) save(file string) {
	tb.t.Helper()
	png, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.t.Fatalf("screenshot %s: %v", file, err)
	}
	if err := os.WriteFile(file, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
}

// screenshotDir is $SAATHI_SCREENSHOTS, made if needed (a relative path
// is from the repository's root), or "" for no screenshots.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv(screenshotsEnv)
	if dir == "" {
		return ""
	}
	if !filepath.IsAbs(dir) {
		// go test runs in the package's directory: the root is one up.
		dir = filepath.Join("..", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// lockedBuffer keeps the browser's output, written from chromedp's
// goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 {
		return len(p), nil // enough to say why it did not start
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
