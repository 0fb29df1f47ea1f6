package oauth_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"golang.org/x/oauth2"

	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/pkg/oauth"
	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// exampleSecrets holds the example's client secret and token key.
type exampleSecrets struct{ sealer *oauth.Sealer }

func (exampleSecrets) ClientSecret(context.Context) (oauth.Secret, error) {
	return mockrc.DefaultClientSecret, nil
}
func (s exampleSecrets) Sealer(context.Context) (*oauth.Sealer, error) { return s.sealer, nil }
func (exampleSecrets) AppKeys(context.Context) (connect.Keys, error) {
	return connect.Keys{Current: "example app key, at least thirty-two characters"}, nil
}

// exampleHandler is a Handler on a MemoryStore for a RingCentral-shaped
// mock provider, with Alice (account 1001) connected through the real
// /authorize and /callback handlers.
func exampleHandler() (h *oauth.Handler, providerURL string, done func()) {
	rc := mockrc.New(mockrc.Options{})
	srv := httptest.NewServer(rc)
	sealer, err := oauth.NewSealer("example token key, at least thirty-two characters")
	if err != nil {
		panic(err)
	}
	cfg := oauth.Config{
		Provider:         oauth.RingCentral(srv.URL),
		ClientID:         mockrc.DefaultClientID,
		RedirectURL:      "http://127.0.0.1/callback",
		RefreshMode:      oauth.ModeKeepalive,
		KeepaliveMargin:  48 * time.Hour,
		SweepConcurrency: 4,
	}
	h = oauth.NewHandler(cfg, oauth.NewMemoryStore(), exampleSecrets{sealer})
	h.Log = slog.New(slog.NewTextHandler(io.Discard, nil))

	// The user's browser: /authorize, the provider's login page, /callback.
	ctx := context.Background()
	auth, _ := h.Authorize(ctx, events.APIGatewayV2HTTPRequest{RawPath: "/authorize"})
	loc, _ := url.Parse(auth.Headers["Location"])
	form := loc.Query()
	form.Set("account", "1001")
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.PostForm(srv.URL+mockrc.DecidePath, form)
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	back, _ := url.Parse(resp.Header.Get("Location"))
	cookie := strings.SplitN(auth.Cookies[0], ";", 2)[0]
	cb, _ := h.Callback(ctx, events.APIGatewayV2HTTPRequest{RawPath: "/callback", RawQueryString: back.RawQuery, Cookies: []string{cookie}})
	if cb.StatusCode != http.StatusOK {
		panic(fmt.Sprintf("callback: %d %s", cb.StatusCode, cb.Body))
	}
	return h, srv.URL, srv.Close
}

// An app calls the provider as a connected account: TokenSource serves the
// stored access token and refreshes it on demand, under the same lease as
// the sweep, so oauth2.NewClient just works.
func ExampleHandler_TokenSource() {
	h, providerURL, done := exampleHandler()
	defer done()

	ctx := context.Background()
	client := oauth2.NewClient(ctx, h.TokenSource(ctx, "1001"))
	resp, err := client.Get(providerURL + "/restapi/v1.0/account/~/extension/~")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer resp.Body.Close()
	fmt.Println(resp.Status)
	// Output: 200 OK
}

// Connection reports a connection's state (never its tokens); Disconnect
// revokes the session at the provider and deletes it.
func ExampleHandler_Disconnect() {
	h, _, done := exampleHandler()
	defer done()

	ctx := context.Background()
	info, err := h.Connection(ctx, "1001")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(info.Status, info.HasRefreshToken, info.RefreshExpiresAt.Sub(info.NextRefreshAt))

	if err := h.Disconnect(ctx, "1001"); err != nil {
		fmt.Println(err)
		return
	}
	_, err = h.Connection(ctx, "1001")
	fmt.Println(err)
	// Output:
	// active true 48h0m0s
	// oauth: connection 1001: oauth: get connection: oauth: not found
}

// The refresh function runs the sweep on a schedule; here, right after
// connecting, nothing is due yet.
func ExampleHandler_Sweep() {
	h, _, done := exampleHandler()
	defer done()
	h.Metrics = io.Discard // EMF lines go to stdout in Lambda

	sum, err := h.Sweep(context.Background(), oauth.SweepInput{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("due %d, refreshed %d\n", sum.Due, sum.Refreshed)
	// Output: due 0, refreshed 0
}
