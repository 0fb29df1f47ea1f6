package oauth

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

func TestRenderEveryAnswer(t *testing.T) {
	all := []answer{ansBadRequest, ansReturnTo, ansBadState, ansBinding, ansDeclined, ansProviderRefused, ansInvalidGrant,
		ansUnauthorizedClient, ansInvalidClient, ansUnavailable, ansBadResponse, ansInternal, ansConnected}
	for _, a := range all {
		t.Run(a.code, func(t *testing.T) {
			a.retry = `authorize?return_to=https%3A%2F%2Fapp.example%2F&app_state="><script>alert(1)</script>`
			a.account = `<img src=x onerror=alert(1)>`
			html := render(events.APIGatewayV2HTTPRequest{}, a)
			if html.StatusCode != a.status {
				t.Errorf("status = %d, want %d", html.StatusCode, a.status)
			}
			for k, want := range map[string]string{"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "Content-Type": "text/html; charset=utf-8"} {
				if got := html.Headers[k]; got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			for _, bad := range []string{"<script>", "<img", "onerror=alert(1)>"} {
				if strings.Contains(html.Body, bad) {
					t.Errorf("page reflects %q unescaped", bad)
				}
			}
			for _, want := range []string{`<html lang="en">`, "<h1>", `name="viewport"`} {
				if !strings.Contains(html.Body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			if strings.Contains(html.Body, "http://") || strings.Contains(html.Body, "<script") || strings.Contains(html.Body, "src=\"http") {
				t.Errorf("page makes external requests or has scripts")
			}
			js := render(events.APIGatewayV2HTTPRequest{Headers: map[string]string{"Accept": "application/json"}}, a)
			var body map[string]string
			if err := json.Unmarshal([]byte(js.Body), &body); err != nil || body["error"] != a.code {
				t.Errorf("JSON answer = %s (%v), want error %q", js.Body, err, a.code)
			}
			if js.Headers["Cache-Control"] != "no-store" || js.Headers["Content-Type"] != "application/json" {
				t.Errorf("JSON headers = %v", js.Headers)
			}
		})
	}
}
