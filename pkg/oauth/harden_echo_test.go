package oauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// echoProvider is a provider that repeats in its error text whatever it was
// sent: every form value, the Authorization header and its parts. Its
// tokens and the codes the test sends are short (under the 24 characters
// of safeDescription's heuristic), so only removing the exact values sent
// keeps them out of the logs.
type echoProvider struct {
	srv *httptest.Server

	mu    sync.Mutex
	sent  map[string]string // value -> where it was sent
	echo  map[string]bool   // endpoint ("token", "refresh", "revoke", "userinfo") -> answer with an echo
	calls map[string]int
}

// Short values the echo provider issues and the test sends.
const (
	echoCode    = "c0de-7Hq2"     // 9 characters
	echoAccess  = "at-Kx81pQ"     // 9
	echoRefresh = "rt-Zm4Lw9Vn0c" // 13
)

func newEchoProvider(t *testing.T) *echoProvider {
	p := &echoProvider{sent: map[string]string{}, echo: map[string]bool{}, calls: map[string]int{}}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *echoProvider) serve(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	endpoint := strings.TrimPrefix(r.URL.Path, "/")
	if endpoint == "token" && r.PostFormValue("grant_type") == "refresh_token" {
		endpoint = "refresh"
	}
	var values []string
	p.mu.Lock()
	p.calls[endpoint]++
	record := func(where, v string) {
		if v != "" {
			p.sent[v] = endpoint + " " + where
			values = append(values, v)
		}
	}
	if a := r.Header.Get("Authorization"); a != "" {
		record("Authorization", a)
		if _, cred, ok := strings.Cut(a, " "); ok {
			record("credential", cred)
		}
		if id, secret, ok := r.BasicAuth(); ok {
			record("Basic secret", secret)
			if s, err := url.QueryUnescape(secret); err == nil {
				record("Basic secret (unescaped)", s)
			}
			_ = id // the client id is no secret
		}
	}
	for k, vs := range r.PostForm {
		switch k {
		case "grant_type", "client_id", "redirect_uri":
		default:
			for _, v := range vs {
				record(k, v)
			}
		}
	}
	echo := p.echo[endpoint]
	p.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	if !echo {
		switch endpoint {
		case "token":
			json.NewEncoder(w).Encode(map[string]any{"access_token": echoAccess, "token_type": "bearer", "expires_in": 3600,
				"refresh_token": echoRefresh, "refresh_token_expires_in": 604800, "owner_id": "1001"})
		case "userinfo":
			json.NewEncoder(w).Encode(map[string]any{"sub": "1001"})
		}
		return // revoke: 200
	}
	// Every way a provider's text reaches a log line: the error code, the
	// description (plain, glued to punctuation, quoted), RingCentral's
	// errors[] and message, RFC 6750's WWW-Authenticate.
	first := values[len(values)-1]
	text := "refused " + strings.Join(values, " ") + " (" + strings.Join(values, ",") + `) "` + first + `"`
	w.Header().Set("WWW-Authenticate", `Bearer error="`+first+`", error_description="`+text+`"`)
	w.WriteHeader(http.StatusBadRequest)
	body := map[string]any{"error": first, "error_description": text, "message": text, "errorCode": first,
		"errors": []map[string]string{{"errorCode": first, "message": text}}}
	if endpoint == "userinfo" {
		body = map[string]any{"message": text} // the code comes from WWW-Authenticate
	}
	json.NewEncoder(w).Encode(body)
}

// checkEchoLogs: no value sent to the provider appears in any log line, and
// the provider's refusals were logged (with [redacted] where it echoed).
func (p *echoProvider) checkEchoLogs(t *testing.T, logs string, endpoints ...string) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range endpoints {
		if p.calls[e] == 0 {
			t.Errorf("no call to the %s endpoint: the check would be vacuous", e)
		}
	}
	if !strings.Contains(logs, redactedText) {
		t.Errorf("no log line says %s: the provider's echo was not logged at all", redactedText)
	}
	for i, line := range strings.Split(logs, "\n") {
		for v, where := range p.sent {
			if strings.Contains(line, v) {
				t.Errorf("log line %d contains the value sent as %s (%d characters): %s", i+1, where, len(v), line)
			}
		}
	}
}

// Issue 16 item 2: a provider that echoes a short client secret, code,
// verifier, refresh token or access token gets none of them into a log
// line, at the code exchange, a refresh, a revocation and userinfo, with
// either way of sending the client secret.
func TestProviderEchoNotLogged(t *testing.T) {
	styles := []struct{ style, secret string }{
		{"basic", testClientSecret}, // 23 characters, as reproduced at the code exchange
		{"post", "s3cr-t+/Qw9=!"},   // 13 characters, with characters URL encoding changes
	}
	for _, st := range styles {
		t.Run(st.style, func(t *testing.T) {
			// setup builds a rig on an echo provider; connect runs
			// /authorize and /callback with the short code.
			setup := func(t *testing.T, userinfo bool) (*testRig, *echoProvider) {
				p := newEchoProvider(t)
				env := []string{"OAUTH_AUTH_STYLE", st.style, "OAUTH_CLIENT_SECRET", st.secret,
					"OAUTH_TOKEN_URL", p.srv.URL + "/token", "OAUTH_REVOKE_URL", p.srv.URL + "/revoke"}
				if userinfo {
					env = append(env, "OAUTH_ACCOUNT_FIELD", "", "OAUTH_USERINFO_URL", p.srv.URL+"/userinfo")
				}
				return newRig(t, memoryStore, env...), p
			}
			connect := func(t *testing.T, r *testRig) int {
				resp, cookie := r.start(t, "")
				u, err := url.Parse(resp.Headers["Location"])
				if err != nil {
					t.Fatal(err)
				}
				q := url.Values{"code": {echoCode}, "state": {u.Query().Get("state")}}.Encode()
				return r.callback(t, q, cookie).StatusCode
			}

			t.Run("exchange", func(t *testing.T) {
				r, p := setup(t, false)
				p.echo["token"] = true
				if got := connect(t, r); got < 400 {
					t.Fatalf("callback answered %d, want a failure", got)
				}
				p.checkEchoLogs(t, r.logs.String(), "token")
			})
			t.Run("refresh", func(t *testing.T) {
				r, p := setup(t, false)
				if got := connect(t, r); got >= 400 {
					t.Fatalf("callback answered %d, want a success", got)
				}
				p.echo["refresh"] = true
				r.now = r.now.Add(2 * 3600e9)
				if _, err := r.h.TokenSource(context.Background(), "1001").Token(); err == nil {
					t.Fatal("refresh succeeded against a refusing provider")
				}
				p.checkEchoLogs(t, r.logs.String(), "token", "refresh")
			})
			t.Run("revoke", func(t *testing.T) {
				r, p := setup(t, false)
				for range 2 { // the second connection of the account revokes the first's session
					if got := connect(t, r); got >= 400 {
						t.Fatalf("callback answered %d, want a success", got)
					}
					p.echo["revoke"] = true
				}
				p.checkEchoLogs(t, r.logs.String(), "token", "revoke")
			})
			t.Run("userinfo", func(t *testing.T) {
				r, p := setup(t, true)
				p.echo["userinfo"] = true
				if got := connect(t, r); got < 400 {
					t.Fatalf("callback answered %d, want a failure", got)
				}
				p.checkEchoLogs(t, r.logs.String(), "token", "userinfo")
			})
		})
	}
}

// TestSentValuesClean: every form of a sent value is removed before the
// length heuristic, longest first; the heuristic still hides long runs that
// were not sent.
func TestSentValuesClean(t *testing.T) {
	h := &Handler{Config: Config{ClientID: "id 1"}}
	sent := h.sentBy("se+cr/t", "abc", "abcdef")
	for in, want := range map[string]string{
		"bad secret se+cr/t":             "bad secret [redacted]",
		"escaped se%2Bcr%2Ft here":       "escaped [redacted] here",
		"path se+cr%2Ft":                 "path [redacted]",
		"code abcdef.":                   "code [redacted].",
		"x" + strings.Repeat("y", 30):    "[redacted]",
		"basic aWQrMTpzZSUyQmNyJTJGdA==": "basic [redacted]",
	} {
		if got := sent.description(in); got != want {
			t.Errorf("description(%q) = %q, want %q", in, got, want)
		}
	}
	if got := sent.code("abc"); got != "other" {
		t.Errorf("code(sent value) = %q, want other", got)
	}
	if got := sent.code("invalid_grant"); got != "invalid_grant" {
		t.Errorf("code(invalid_grant) = %q", got)
	}
	if got := sent.code(""); got != "" {
		t.Errorf("code(\"\") = %q", got)
	}
}

// Issue 16 item 2: an error redirect that repeats the state (which the
// provider saw) gets it into no log line, in the error code (which passes
// for a protocol code: 43 characters of the code alphabet) or the
// description.
func TestProviderRedirectEchoNotLogged(t *testing.T) {
	r := newRig(t, memoryStore)
	resp, cookie := r.start(t, "")
	u, err := url.Parse(resp.Headers["Location"])
	if err != nil {
		t.Fatal(err)
	}
	state := u.Query().Get("state")
	q := url.Values{"error": {state}, "error_description": {"state=" + state + "."}, "state": {state}}.Encode()
	if got := r.callback(t, q, cookie).StatusCode; got < 400 {
		t.Fatalf("callback answered %d, want a failure", got)
	}
	logs := r.logs.String()
	if !strings.Contains(logs, "authorization ended by the provider") {
		t.Fatalf("the provider's error was not logged: %s", logs)
	}
	for i, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, state) {
			t.Errorf("log line %d contains the state: %s", i+1, line)
		}
	}
}
