package mockrc_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/oauthfn/oauthfn/internal/mockrc"
)

// TestRequestsAndAPI: every request is recorded with its headers; the echo
// and redirect endpoints want a valid access token.
func TestRequestsAndAPI(t *testing.T) {
	e := newEnv(t, mockrc.Options{})
	s, srv := e.srv, e.ts
	req, _ := http.NewRequest("POST", srv.URL+mockrc.EchoPath+"?a=1", strings.NewReader("hello"))
	req.Header.Set("Cookie", "c=1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("echo without a token: %d, want 401", resp.StatusCode)
	}
	got := s.Requests()
	if len(got) != 1 || got[0].Method != "POST" || got[0].Path != mockrc.EchoPath || got[0].RawQuery != "a=1" || got[0].Header.Get("Cookie") != "c=1" {
		t.Errorf("recorded %+v", got)
	}

	access := e.connect("1001").AccessToken
	req, _ = http.NewRequest("PUT", srv.URL+mockrc.EchoPath, strings.NewReader("\x00\xff"))
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "\x00\xff" || resp.Header.Get("Content-Type") != "application/octet-stream" || resp.Header.Get("X-Rate-Limit-Remaining") == "" {
		t.Errorf("echo: %d %q %v", resp.StatusCode, body, resp.Header)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ = http.NewRequest("GET", srv.URL+mockrc.RedirectPath, nil)
	req.Header.Set("Authorization", "Bearer "+access)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 || resp.Header.Get("Location") != mockrc.EchoPath {
		t.Errorf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}
