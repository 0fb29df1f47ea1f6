package testenv

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The development interaction pages of oidc-provider: one form per prompt
// (login: fields login and password; consent: no field), and an abort link.
var (
	formActionRE = regexp.MustCompile(`<form[^>]*\saction="([^"]+)"`)
	promptRE     = regexp.MustCompile(`name="prompt" value="([a-z]+)"`)
	abortRE      = regexp.MustCompile(`href="([^"]*/abort)"`)
)

// Login plays the user's browser from authorizeURL: it follows the
// provider's redirects with a fresh cookie jar, signs in as account (the
// account's sub is that name; any password is accepted), grants consent,
// and returns the URL the provider finally redirects to on one of the
// registered redirect URIs, without requesting it. That URL carries code,
// state and iss, or error and error_description when the provider refused
// the request (for example error=invalid_request without PKCE).
func (o *OIDC) Login(t testing.TB, authorizeURL string, account string) *url.URL {
	t.Helper()
	return o.drive(t, authorizeURL, account, false)
}

// Decline plays a user who opens authorizeURL and cancels on the sign-in
// page (the page's abort link). It returns the redirect to the registered
// redirect URI, which carries error=access_denied and the state.
func (o *OIDC) Decline(t testing.TB, authorizeURL string) *url.URL {
	t.Helper()
	return o.drive(t, authorizeURL, "", true)
}

func (o *OIDC) drive(t testing.TB, authorizeURL, account string, abort bool) *url.URL {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatalf("testenv: cookie jar: %v", err)
	}
	client := &http.Client{
		Jar:     jar,
		Timeout: 60 * time.Second, // a real answer: generous, for a loaded machine
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	req, err := http.NewRequest(http.MethodGet, authorizeURL, nil)
	if err != nil {
		t.Fatalf("testenv: authorize URL: %v", err)
	}
	for step := 0; step < 20; step++ {
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("testenv: oidc flow: %s %s: %v", req.Method, req.URL.Path, err)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			t.Fatalf("testenv: oidc flow: read %s: %v", req.URL.Path, err)
		}

		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := req.URL.Parse(resp.Header.Get("Location"))
			if err != nil || resp.Header.Get("Location") == "" {
				t.Fatalf("testenv: oidc flow: %s answered %d with Location %q: %v", req.URL.Path, resp.StatusCode, resp.Header.Get("Location"), err)
			}
			if o.isRedirectURI(loc) {
				return loc
			}
			req, _ = http.NewRequest(http.MethodGet, loc.String(), nil)

		case resp.StatusCode == http.StatusOK:
			page := string(body)
			if abort {
				m := abortRE.FindStringSubmatch(page)
				if m == nil {
					t.Fatalf("testenv: oidc flow: no abort link on %s:\n%s", req.URL.Path, page)
				}
				next, err := req.URL.Parse(html.UnescapeString(m[1]))
				if err != nil {
					t.Fatalf("testenv: oidc flow: abort link: %v", err)
				}
				req, _ = http.NewRequest(http.MethodGet, next.String(), nil)
				continue
			}
			req = o.formRequest(t, req.URL, page, account)

		default:
			t.Fatalf("testenv: oidc flow: %s %s answered %d:\n%s", req.Method, req.URL.Path, resp.StatusCode, body)
		}
	}
	t.Fatalf("testenv: oidc flow: no redirect to %v after 20 steps", o.redirectURIs)
	return nil
}

// formRequest fills the login or consent form of an interaction page.
func (o *OIDC) formRequest(t testing.TB, pageURL *url.URL, page, account string) *http.Request {
	t.Helper()
	action := formActionRE.FindStringSubmatch(page)
	prompt := promptRE.FindStringSubmatch(page)
	if action == nil || prompt == nil {
		t.Fatalf("testenv: oidc flow: %s is not a login or consent page:\n%s", pageURL.Path, page)
	}
	target, err := pageURL.Parse(html.UnescapeString(action[1]))
	if err != nil {
		t.Fatalf("testenv: oidc flow: form action %q: %v", action[1], err)
	}
	form := url.Values{"prompt": {prompt[1]}}
	switch prompt[1] {
	case "login":
		if account == "" {
			t.Fatal("testenv: oidc flow: Login needs an account name")
		}
		form.Set("login", account)
		form.Set("password", "any")
	case "consent":
	default:
		t.Fatalf("testenv: oidc flow: unknown prompt %q on %s", prompt[1], pageURL.Path)
	}
	req, err := http.NewRequest(http.MethodPost, target.String(), strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatalf("testenv: oidc flow: %v", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req
}

// isRedirectURI reports whether u points at a registered redirect URI
// (same scheme, host and path; the query is the provider's answer).
func (o *OIDC) isRedirectURI(u *url.URL) bool {
	for _, r := range o.redirectURIs {
		ru, err := url.Parse(r)
		if err != nil {
			continue
		}
		if ru.Scheme == u.Scheme && ru.Host == u.Host && ru.Path == u.Path {
			return true
		}
	}
	return false
}
