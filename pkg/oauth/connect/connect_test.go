package connect_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect/connecttest"
)

var (
	keyA = strings.Repeat("a", 64)
	keyB = strings.Repeat("b", 64)
	t0   = time.Unix(1_800_000_000, 0).UTC()
)

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

func wantCheck(t *testing.T, err error, check string) {
	t.Helper()
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Check != check {
		t.Fatalf("error = %v, want a connect.Error with check %q", err, check)
	}
}

func TestTokenRoundTrip(t *testing.T) {
	k := connect.Keys{Current: keyA, Now: at(t0)}
	tok, err := k.Token("user-1", connect.Options{ReturnTo: "https://app.example/done", AppState: "s", LoginHint: "a@b", ID: "id-1"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.VerifyToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	want := connect.Request{User: "user-1", ID: "id-1", ReturnTo: "https://app.example/done", AppState: "s", LoginHint: "a@b",
		IssuedAt: t0, ExpiresAt: t0.Add(connect.DefaultLifetime)}
	if got != want {
		t.Errorf("VerifyToken = %+v, want %+v", got, want)
	}
	// A fresh random jti each time.
	a, _ := k.Token("u", connect.Options{})
	b, _ := k.Token("u", connect.Options{})
	ra, _ := k.VerifyToken(a)
	rb, _ := k.VerifyToken(b)
	if ra.ID == "" || ra.ID == rb.ID {
		t.Errorf("jti %q and %q, want distinct random ids", ra.ID, rb.ID)
	}
}

func TestURL(t *testing.T) {
	u, err := connect.URL(keyA, "https://api.example/authorize", "user-7", connect.Options{ReturnTo: "https://app.example/c"})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := url.Parse(u)
	if p.Host != "api.example" || p.Path != "/authorize" || len(p.Query()) != 1 {
		t.Fatalf("URL = %s, want only ?connect=", u)
	}
	r, err := connect.Keys{Current: keyA}.VerifyToken(p.Query().Get("connect"))
	if err != nil || r.User != "user-7" || r.ReturnTo != "https://app.example/c" {
		t.Errorf("URL's token = %+v, %v", r, err)
	}
	if _, err := connect.URL(keyA, "/authorize", "u", connect.Options{}); err == nil {
		t.Errorf("relative authorize URL accepted")
	}
}

func TestTokenRefusesBadInput(t *testing.T) {
	tests := []struct {
		name  string
		key   string
		user  string
		opts  connect.Options
		check string
	}{
		{"short key", "short", "u", connect.Options{}, connect.CheckKey},
		{"no user", keyA, "", connect.Options{}, connect.CheckUser},
		{"user too long", keyA, strings.Repeat("u", 129), connect.Options{}, connect.CheckUser},
		{"user with a tab", keyA, "a\tb", connect.Options{}, connect.CheckUser},
		{"lifetime too long", keyA, "u", connect.Options{Lifetime: 16 * time.Minute}, connect.CheckLifetime},
		{"jti too long", keyA, "u", connect.Options{ID: strings.Repeat("i", 65)}, connect.CheckID},
		{"app_state too long", keyA, "u", connect.Options{AppState: strings.Repeat("s", 513)}, connect.CheckClaim},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := connect.Token(tt.key, tt.user, tt.opts)
			wantCheck(t, err, tt.check)
		})
	}
	if u := strings.Repeat("é", 128); true {
		if _, err := connect.Token(keyA, u, connect.Options{}); err != nil {
			t.Errorf("128 non-ASCII characters refused: %v", err)
		}
	}
}

func TestVerifyTokenRefusals(t *testing.T) {
	k := connect.Keys{Current: keyA, Now: at(t0)}
	for _, bt := range connecttest.BadConnectTokens(keyA, t0) {
		t.Run(bt.Name, func(t *testing.T) {
			_, err := k.VerifyToken(bt.Token)
			wantCheck(t, err, bt.Check)
			if strings.Contains(err.Error(), bt.Token) {
				t.Errorf("error quotes the token")
			}
		})
	}
}

func TestVerifyTokenSkewAndLimits(t *testing.T) {
	k := connect.Keys{Current: keyA, Now: at(t0)}
	tests := []struct {
		name string
		mut  func(c jwt.MapClaims)
		ok   bool
	}{
		{"exactly 15 minutes", func(c jwt.MapClaims) { c["exp"] = t0.Add(15 * time.Minute).Unix() }, true},
		{"expired within the leeway", func(c jwt.MapClaims) {
			c["iat"] = t0.Add(-5 * time.Minute).Unix()
			c["exp"] = t0.Add(-20 * time.Second).Unix()
		}, true},
		{"expired past the leeway", func(c jwt.MapClaims) {
			c["iat"] = t0.Add(-5 * time.Minute).Unix()
			c["exp"] = t0.Add(-31 * time.Second).Unix()
		}, false},
		{"iat ahead within the leeway", func(c jwt.MapClaims) { c["iat"] = t0.Add(20 * time.Second).Unix() }, true},
		{"sub of 128 characters", func(c jwt.MapClaims) { c["sub"] = strings.Repeat("u", 128) }, true},
		{"jti of 64 characters", func(c jwt.MapClaims) { c["jti"] = strings.Repeat("j", 64) }, true},
		{"aud as an array", func(c jwt.MapClaims) { c["aud"] = []string{"other", connect.ConnectAudience} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := connecttest.ConnectClaims("user-1", "j1", t0)
			tt.mut(c)
			_, err := k.VerifyToken(connecttest.Sign(jwt.SigningMethodHS256, []byte(keyA), c))
			if (err == nil) != tt.ok {
				t.Errorf("VerifyToken error = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestPreviousKeyVerifies(t *testing.T) {
	old, err := connect.Keys{Current: keyB, Now: at(t0)}.Token("u", connect.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (connect.Keys{Current: keyA, Previous: []string{keyB}, Now: at(t0)}).VerifyToken(old); err != nil {
		t.Errorf("token signed with AWSPREVIOUS refused: %v", err)
	}
	_, err = connect.Keys{Current: keyA, Now: at(t0)}.VerifyToken(old)
	wantCheck(t, err, connect.CheckSignature)
}

// Issue 15 item 6: a Previous key shorter than MinKeyLen (which Current
// may not be) verifies nothing, a token or a result.
func TestShortPreviousKeyVerifiesNothing(t *testing.T) {
	short := strings.Repeat("s", connect.MinKeyLen-1)
	tok := connecttest.Sign(jwt.SigningMethodHS256, []byte(short), connecttest.ConnectClaims("u", "j-1", t0))
	_, err := connect.Keys{Current: keyA, Previous: []string{short}, Now: at(t0)}.VerifyToken(tok)
	wantCheck(t, err, connect.CheckSignature)
	res := connecttest.Sign(jwt.SigningMethodHS256, []byte(short), jwt.MapClaims{"aud": connect.ResultAudience, "sub": "u",
		"account_id": "1", "provider": "p", "iat": t0.Unix(), "exp": t0.Add(time.Minute).Unix(), "jti": "r-1"})
	_, err = connect.Keys{Current: keyA, Previous: []string{short}, Now: at(t0)}.VerifyResult(res)
	wantCheck(t, err, connect.CheckSignature)
}

func TestResult(t *testing.T) {
	fn := connect.Keys{Current: keyA, Now: at(t0)}
	res, err := fn.SignResult(connect.Result{User: "user-1", AccountID: "1001", Provider: "ringcentral", AppState: "s"})
	if err != nil {
		t.Fatal(err)
	}
	app := connect.Keys{Current: keyA, Now: at(t0.Add(time.Minute))}
	got, err := app.VerifyResult(res)
	if err != nil {
		t.Fatal(err)
	}
	if got.User != "user-1" || got.AccountID != "1001" || got.Provider != "ringcentral" || got.Status != "connected" || got.AppState != "s" ||
		got.ID == "" || !got.IssuedAt.Equal(t0) || !got.ExpiresAt.Equal(t0.Add(connect.ResultLifetime)) {
		t.Errorf("VerifyResult = %+v", got)
	}

	forge := func(key string, mut func(c jwt.MapClaims)) string {
		c := jwt.MapClaims{"aud": connect.ResultAudience, "sub": "attacker", "account_id": "1001", "provider": "ringcentral",
			"status": "connected", "iat": t0.Unix(), "exp": t0.Add(5 * time.Minute).Unix(), "jti": "x"}
		mut(c)
		return connecttest.Sign(jwt.SigningMethodHS256, []byte(key), c)
	}
	parts := strings.Split(res, ".")
	tests := []struct {
		name   string
		result string
		now    time.Time
		check  string
	}{
		{"forged with another key", forge(keyB, func(jwt.MapClaims) {}), t0, connect.CheckSignature},
		{"edited (sub changed, signature kept)", connecttest.EditPayload(res), t0, connect.CheckSignature},
		{"payload swapped", parts[0] + "." + strings.Split(forge(keyB, func(jwt.MapClaims) {}), ".")[1] + "." + parts[2], t0, connect.CheckSignature},
		{"expired", res, t0.Add(connect.ResultLifetime + time.Minute), connect.CheckExpiry},
		{"a connect token is not a result", forge(keyA, func(c jwt.MapClaims) { c["aud"] = connect.ConnectAudience }), t0, connect.CheckAudience},
		{"alg none", connecttest.Sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"aud": connect.ResultAudience}), t0, connect.CheckAlgorithm},
		{"no account", forge(keyA, func(c jwt.MapClaims) { delete(c, "account_id") }), t0, connect.CheckClaim},
		{"status not connected", forge(keyA, func(c jwt.MapClaims) { c["status"] = "revoked" }), t0, connect.CheckClaim},
		{"lives too long", forge(keyA, func(c jwt.MapClaims) { c["exp"] = t0.Add(time.Hour).Unix() }), t0, connect.CheckLifetime},
		{"empty", "", t0, connect.CheckFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := connect.Keys{Current: keyA, Now: at(tt.now)}.VerifyResult(tt.result)
			wantCheck(t, err, tt.check)
		})
	}
	// The package-level call verifies with one key and the wall clock.
	if _, err := connect.VerifyResult(keyA, res); err == nil {
		t.Errorf("a result from 2027 verified with today's clock")
	}
}

func TestKeysNeverPrinted(t *testing.T) {
	k := connect.Keys{Current: keyA, Previous: []string{keyB}}
	type holder struct{ K connect.Keys }
	for _, v := range []any{k, &k, holder{k}} {
		var outs []string
		for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
			outs = append(outs, fmt.Sprintf(verb, v))
		}
		j, _ := json.Marshal(v)
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "keys", v)
		slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "keys", v)
		outs = append(outs, string(j), buf.String())
		for _, s := range outs {
			if strings.Contains(s, "aaaa") || strings.Contains(s, "bbbb") {
				t.Errorf("a key is printed: %s", s)
			}
		}
	}
}

// The package is what an app's web server links: golang-jwt and the
// standard library, never the AWS SDK or aws-lambda-go.
func TestImportGraph(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", "github.com/oauthfn/oauthfn/pkg/oauth/connect").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var foreign []string
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case pkg == "github.com/oauthfn/oauthfn/pkg/oauth/connect", strings.HasPrefix(pkg, "github.com/golang-jwt/jwt/v5"):
		default:
			foreign = append(foreign, pkg)
		}
	}
	if len(foreign) > 0 {
		t.Errorf("connect imports %v; want only golang-jwt and the standard library", foreign)
	}
}
