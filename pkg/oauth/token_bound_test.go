package oauth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthfn/oauthfn/pkg/oauth/apigw"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// connect.Token and /authorize agree on how long a connect token may be:
// the largest token Token mints (every other claim at its bound, return_to
// as long as still fits) goes through /authorize over HTTP and comes back in
// the result; one byte more of claims and Token itself refuses, as it
// refuses every optional claim at its documented bound and a return_to
// whose & grow sixfold in JSON (both tokens /authorize used to answer 400).
func TestConnectTokenBound(t *testing.T) {
	r := newRig(t, memoryStore, "REQUIRE_CONFIRM", "true")
	r.manualConfirm = true
	mux := http.NewServeMux()
	mux.Handle("GET /authorize", apigw.Handler(r.h.Authorize))
	mux.Handle("GET /callback", apigw.Handler(r.h.Callback))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	user := strings.Repeat("u", connect.MaxUserLen)
	opts := func(returnToLen int) connect.Options {
		base := defaultReturnTo + "?pad="
		return connect.Options{
			ReturnTo:  base + strings.Repeat("p", returnToLen-len(base)),
			AppState:  strings.Repeat("s", connect.MaxAppStateLen),
			LoginHint: strings.Repeat("h", connect.MaxLoginHintLen),
			ID:        strings.Repeat("j", connect.MaxIDLen),
		}
	}
	// The longest return_to that still fits.
	largest, n := "", 0
	for l := len(defaultReturnTo) + 5; l <= connect.MaxReturnToLen; l++ {
		tok, err := r.keys().Token(user, opts(l))
		if err != nil {
			break
		}
		largest, n = tok, l
	}
	if len(largest) != connect.MaxTokenLen {
		t.Fatalf("the largest token Token mints is %d bytes (return_to %d), want exactly MaxTokenLen %d", len(largest), n, connect.MaxTokenLen)
	}

	resp, err := noFollow.Get(srv.URL + "/authorize?connect=" + largest)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("/authorize answered the largest token %d, want 302", resp.StatusCode)
	}
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == BindingCookie {
			cookie = c.Name + "=" + c.Value
		}
	}
	req, _ := http.NewRequest("GET", srv.URL+"/callback?"+r.prov.approve(t, resp.Header.Get("Location")), nil)
	req.Header.Set("Cookie", cookie)
	if resp, err = noFollow.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	res, err := r.keys().VerifyResult(back.Query().Get("result"))
	if err != nil || res.Status != connect.StatusPending || res.User != user || res.AppState != opts(n).AppState ||
		back.Path != "/done" || back.Query().Get("pad") != opts(n).ReturnTo[len(defaultReturnTo)+5:] {
		t.Fatalf("the largest token's flow came back as %+v, %v to %s (%d)", res, err, back, resp.StatusCode)
	}

	refused := map[string]connect.Options{
		"one byte over": opts(n + 1),
		"every optional claim at its bound": {
			ReturnTo:  defaultReturnTo + "?" + strings.Repeat("p", connect.MaxReturnToLen-len(defaultReturnTo)-1),
			AppState:  strings.Repeat("s", connect.MaxAppStateLen),
			LoginHint: strings.Repeat("h", connect.MaxLoginHintLen),
		},
		"return_to of & (JSON escapes each as \\u0026)": {ReturnTo: defaultReturnTo + "?" + strings.Repeat("&", 700)},
	}
	for name, o := range refused {
		tok, err := r.keys().Token(user, o)
		var ce *connect.Error
		if !errors.As(err, &ce) || ce.Check != connect.CheckClaim || !strings.Contains(err.Error(), "more than /authorize accepts") {
			t.Errorf("%s: Token = %d bytes, %v; want it refused for its length", name, len(tok), err)
		}
	}
	before := r.store.puts.Load()
	if tok, err := r.keys().Token(user, opts(n+1)); err == nil {
		t.Fatalf("one byte over minted %d bytes", len(tok))
	}
	// What /authorize does with a token one byte over (made by hand, as
	// another library could): 400 before anything is stored.
	over := largest[:strings.LastIndexByte(largest, '.')] + "x" + largest[strings.LastIndexByte(largest, '.'):]
	resp, err = noFollow.Get(srv.URL + "/authorize?connect=" + over)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || r.store.puts.Load() != before {
		t.Errorf("/authorize with a %d-byte token = %d, %d puts; want 400, nothing stored", len(over), resp.StatusCode, r.store.puts.Load()-before)
	}
	if _, err := r.keys().VerifyToken(over); err == nil {
		t.Errorf("VerifyToken accepted a %d-byte token", len(over))
	}
}
