// Package browsertest drives a real browser (headless Chromium, through the
// DevTools protocol with github.com/chromedp/chromedp) through the whole
// authorization flow of the dev server (`oauthfn dev`, built from cmd/oauthfn
// and run as a child process on a free loopback port): the demo app, the
// built-in mock provider's login page or oidc-provider's real login and
// consent pages, /callback and every page a person sees on the way.
//
// What only a browser shows is tested here: the binding cookie as Chromium
// stores and sends it (across sites: the dev server runs on localhost,
// oidc-provider on 127.0.0.1), the back button and reloads, two tabs, the
// "Try again" link. Screenshots of the answer pages go to
// test-artifacts/screenshots/.
//
// Chromium is required: `make test` installs it (scripts/test.sh,
// install_chromium). A missing browser fails the tests; it never skips them.
package browsertest
