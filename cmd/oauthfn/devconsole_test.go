package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestDevPages(t *testing.T) {
	ds, _ := startDev(t, devOptions{Provider: providerMock, Store: storeMemory})
	tests := []struct {
		name       string
		path       string
		wantStatus int
		want       []string
		notWant    []string
	}{
		{"demo app signed out", "/", http.StatusOK, []string{"<h1>", `action="/app/signin"`, `value="ana"`, "Alice 1001"}, []string{`action="/app/connect"`}},
		// A typed return URL is refused, whatever it says, and nothing of
		// it is shown: only a signed result counts.
		{"forged return refused",
			"/app/connected?status=connected&account_id=%3Cb%3E1001%3C%2Fb%3E&app_state=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
			http.StatusBadRequest, []string{`id="refused"`, "no signed result", `href="/_dev"`}, []string{"<b>1001", "alert(1)", `id="verified"`}},
		{"edited result refused", "/app/connected?result=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.AAAA", http.StatusBadRequest,
			[]string{`id="refused"`, "failed verification (signature)"}, []string{`id="verified"`}},
		{"connected page without a query", "/app/connected", http.StatusOK, []string{`id="no-result"`}, []string{`id="refused"`}},
		{"console", consolePath, http.StatusOK, []string{"No connections yet", "Recent logs", "dev server ready", "Run sweep now", "Connect token required"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get(ds.BaseURL + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			body := string(b)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			headers := map[string]string{
				"Content-Type":           "text/html; charset=utf-8",
				"Cache-Control":          "no-store",
				"Referrer-Policy":        "no-referrer",
				"X-Content-Type-Options": "nosniff",
			}
			for k, v := range headers {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("Content-Security-Policy = %q, want default-src 'none' and frame-ancestors 'none'", csp)
			}
			// Self-contained, readable on a phone, no scripts.
			for _, s := range append([]string{`<html lang="en">`, `name="viewport"`, "<title>", "<h1>"}, tt.want...) {
				if !strings.Contains(body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			for _, s := range append([]string{"<script", "src=", "http-equiv=\"refresh\""}, tt.notWant...) {
				if strings.Contains(body, s) {
					t.Errorf("page contains %q", s)
				}
			}
		})
	}
}

func TestDevRoutes(t *testing.T) {
	ds, _ := startDev(t, devOptions{Provider: providerMock, Store: storeMemory})
	host := strings.TrimPrefix(ds.BaseURL, "http://")
	_, port, _ := strings.Cut(host, ":")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		name, method, path, host string
		wantStatus               int
		wantLocation             string
	}{
		{"unknown path", "GET", "/nope", "", http.StatusNotFound, ""},
		{"app prefix is the browser-only app's", "GET", "/app", "", http.StatusTemporaryRedirect, "/app/"},
		{"app unknown file", "GET", "/app/nope.js", "", http.StatusNotFound, ""},
		{"console subpath", "GET", consolePath + "/x", "", http.StatusNotFound, ""},
		{"unknown console action", "POST", consolePath + "/actions/nope", "", http.StatusNotFound, ""},
		{"POST /authorize", "POST", "/authorize", "", http.StatusMethodNotAllowed, ""},
		{"mock provider served", "GET", mockPrefix + "/restapi/oauth/authorize", "", http.StatusBadRequest, ""},
		{"mock unknown path", "GET", mockPrefix + "/nope", "", http.StatusNotFound, ""},
		{"another host name is sent to the canonical one", "GET", consolePath + "?a=1", "localhost:" + port, http.StatusTemporaryRedirect, ds.BaseURL + consolePath + "?a=1"},
		{"a rebound DNS name cannot read the console", "GET", consolePath, "attacker.example:" + port, http.StatusTemporaryRedirect, ds.BaseURL + consolePath},
		{"nor post to it", "POST", consolePath + "/actions/sweep", "attacker.example:" + port, http.StatusMisdirectedRequest, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, ds.BaseURL+tt.path, nil)
			if tt.host != "" {
				req.Host = tt.host
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if got := resp.Header.Get("Location"); got != tt.wantLocation {
				t.Errorf("Location = %q, want %q", got, tt.wantLocation)
			}
		})
	}
}

func TestConsoleActions(t *testing.T) {
	ds, logs := startDev(t, devOptions{Provider: providerMock, Store: storeMemory})
	var runs atomic.Int32
	ds.Console.actions = []consoleAction{
		{Name: "ping", Label: "Ping", Help: "counts", Run: func(context.Context) (string, error) {
			runs.Add(1)
			return "pong <b>", nil
		}},
		{Name: "fail", Label: "Fail", Run: func(context.Context) (string, error) {
			return "", errors.New("oauth: <i>broken</i>")
		}},
	}
	other := "http://127.0.0.1:1" // another localhost origin: same-site, cross-origin
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	tests := []struct {
		name       string
		headers    map[string]string
		wantStatus int
	}{
		{"the console's own button", map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": ds.BaseURL}, http.StatusSeeOther},
		{"older browser, same Origin", map[string]string{"Origin": ds.BaseURL}, http.StatusSeeOther},
		{"not a browser (curl)", nil, http.StatusSeeOther},
		{"another localhost app (same-site)", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": other}, http.StatusForbidden},
		{"another site", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://attacker.example"}, http.StatusForbidden},
		{"older browser, other Origin", map[string]string{"Origin": other}, http.StatusForbidden},
		{"older browser, null Origin", map[string]string{"Origin": "null"}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := runs.Load()
			req, _ := http.NewRequest(http.MethodPost, ds.BaseURL+consolePath+"/actions/ping", nil)
			for k, v := range tt.headers {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			ran := runs.Load() - before
			if want := int32(0); tt.wantStatus == http.StatusSeeOther {
				want = 1
				if got := resp.Header.Get("Location"); !regexp.MustCompile(`^/_dev\?shown=[A-Z2-7]{26}#actions$`).MatchString(got) {
					t.Errorf("Location = %q, want %s?shown=<id>#actions", got, consolePath)
				}
				if ran != want {
					t.Errorf("action ran %d times, want %d", ran, want)
				}
			} else if ran != want {
				t.Errorf("refused request ran the action %d times", ran)
			}
		})
	}

	page := func(path string) string {
		resp, err := http.Get(ds.BaseURL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	post := func(name string) string {
		req, _ := http.NewRequest(http.MethodPost, ds.BaseURL+consolePath+"/actions/"+name, nil)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Location")
	}
	shownTo := post("ping")
	// Issue 16: a result is shown to the browser that asked, once; never
	// to the next browser that opens the console.
	if body := page(consolePath); strings.Contains(body, "Ping: ") {
		t.Errorf("a new browser's console shows an earlier action's result")
	}
	body := page(shownTo)
	if again := page(shownTo); strings.Contains(again, "Ping: ") {
		t.Errorf("the result is shown a second time")
	}
	for _, s := range []string{
		`<form method="post" action="/_dev/actions/ping"><p><button type="submit">Ping</button> <span class="note">counts</span>`,
		`<form method="post" action="/_dev/actions/fail">`,
		`Ping: <span class="ok">done</span> <span class="mono">pong &lt;b&gt;</span>`,
	} {
		if !strings.Contains(body, s) {
			t.Errorf("console lacks %q", s)
		}
	}
	if body := page(post("fail")); !strings.Contains(body, `Fail: <span class="bad">failed</span> <span class="mono">oauth: &lt;i&gt;broken&lt;/i&gt;</span>`) {
		t.Errorf("console does not show the failed action, escaped")
	}
	if !strings.Contains(logs.String(), `"msg":"console action refused: cross-origin request"`) {
		t.Errorf("refused actions were not logged")
	}
}

func TestStamp(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name string
		t    time.Time
		want string
	}{
		{"zero", time.Time{}, "—"},
		{"now", now, "2030-01-02 03:04:05 UTC"},
		{"seconds ahead", now.Add(45 * time.Second), "2030-01-02 03:04:50 UTC (in 45s)"},
		{"minutes ago", now.Add(-12 * time.Minute), "2030-01-02 02:52:05 UTC (12m ago)"},
		{"hours ahead", now.Add(3*time.Hour + 20*time.Minute), "2030-01-02 06:24:05 UTC (in 3h20m)"},
		{"days ahead", now.Add(6*24*time.Hour + 4*time.Hour), "2030-01-08 07:04:05 UTC (in 6d4h)"},
		{"other zone shown in UTC", now.In(time.FixedZone("X", 3600)).Add(time.Hour), "2030-01-02 04:04:05 UTC (in 1h00m)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := stamp(tt.t, now); got != tt.want {
				t.Errorf("stamp = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseLogLine(t *testing.T) {
	tests := []struct {
		name string
		line string
		want logView
	}{
		{"slog JSON", `{"time":"2030-01-02T03:04:05.678Z","level":"WARN","msg":"callback refused","outcome":"bad_state","n":3,"ok":true}`,
			logView{Time: "03:04:05.678", Level: "WARN", Msg: "callback refused", Rest: "n=3 ok=true outcome=bad_state"}},
		{"not JSON", `plain text`, logView{Rest: "plain text"}},
		{"nested", `{"level":"INFO","msg":"m","g":{"a":1}}`, logView{Level: "INFO", Msg: "m", Rest: `g={"a":1}`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseLogLine(tt.line); got != tt.want {
				t.Errorf("parseLogLine = %+v, want %+v", got, tt.want)
			}
		})
	}
}
