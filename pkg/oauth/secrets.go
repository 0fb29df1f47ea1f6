package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/oauthfn/oauthfn/pkg/oauth/connect"
)

// DefaultSecretsTTL is how long SecretsManager keeps fetched secrets: a
// rotated client secret or token key is picked up within this time.
const DefaultSecretsTTL = 5 * time.Minute

// clientSecretKey is the key read when the client secret is a JSON object.
const clientSecretKey = "client_secret"

// SecretsManagerAPI is the part of *secretsmanager.Client that
// SecretsManager uses.
type SecretsManagerAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

var (
	_ Secrets           = (*SecretsManager)(nil)
	_ Secrets           = (*StaticSecrets)(nil)
	_ SecretsManagerAPI = (*secretsmanager.Client)(nil)
)

// SecretsManager fetches the client secret and the token key from AWS
// Secrets Manager and caches them for TTL per execution environment: a warm
// call within the TTL makes no Secrets Manager call, and concurrent callers
// after expiry share one fetch (a waiting caller gets the fetching caller's
// result, error included).
//
// A failed refresh returns the error and leaves the cache as it was; the next
// call tries again. It does not serve the stale value: that would hide an
// outage or a deleted secret, and the library does not log to say so.
//
// The client secret is the secret's string value, or, when that parses as a
// JSON object, its "client_secret" key. The token key's AWSCURRENT version
// seals; its AWSPREVIOUS version, when there is one, still opens values
// sealed before the last rotation. The app key (AppKeyARN) likewise: its
// AWSCURRENT version signs results, AWSCURRENT and AWSPREVIOUS verify connect
// tokens.
//
// AWSPREVIOUS is fetched only once the current version does not fit: a
// sealed value names a key id the cached sealer does not hold
// (RefreshSealer), or a signature does not verify with the cached app key
// (RefreshAppKeys). From then on every fetch of that key reads both
// versions, concurrently. A forced fetch happens at once when the cached
// value lacks AWSPREVIOUS, else at most once per 30 s, so values no key
// opens cannot make every call fetch. An AWSPREVIOUS version shorter than
// the minimum of its key (MinTokenKeyLen, connect.MinKeyLen) is never used:
// it is logged once and skipped.
type SecretsManager struct {
	Client          SecretsManagerAPI
	ClientSecretARN string
	TokenKeyARN     string
	AppKeyARN       string
	TTL             time.Duration    // <= 0 means DefaultSecretsTTL
	Now             func() time.Time // nil means time.Now
	// Log receives the one warning about a skipped AWSPREVIOUS version;
	// nil means slog.Default().
	Log *slog.Logger

	// ByProvider: the client secret is a JSON object, provider id ->
	// secret (OAUTH_PROVIDERS); read with ProviderClientSecret.
	ByProvider bool

	clientSecret    cache[Secret]
	providerSecrets cache[map[string]Secret]
	sealer          cache[versions[*Sealer]]
	appKeys         cache[versions[connect.Keys]]

	// Set once a value needed AWSPREVIOUS: every later fetch reads it too.
	sealerPrevious, appPrevious atomic.Bool
	shortLogged                 sync.Map // "<arn> <version id>" of skipped AWSPREVIOUS versions
}

// versions is a key built from AWSCURRENT, and from AWSPREVIOUS too when
// withPrevious (whether or not there was a usable one).
type versions[T any] struct {
	key          T
	withPrevious bool
}

// NewSecretsManager returns a SecretsManager with the default clock. Build it
// once per execution environment, outside the Lambda handler.
func NewSecretsManager(client SecretsManagerAPI, clientSecretARN, tokenKeyARN string, ttl time.Duration) *SecretsManager {
	if ttl <= 0 {
		ttl = DefaultSecretsTTL
	}
	return &SecretsManager{
		Client:          client,
		ClientSecretARN: clientSecretARN,
		TokenKeyARN:     tokenKeyARN,
		TTL:             ttl,
		Now:             time.Now,
	}
}

// ClientSecret returns the OAuth client secret.
func (m *SecretsManager) ClientSecret(ctx context.Context) (Secret, error) {
	return m.clientSecret.get(ctx, m.now, m.ttl(), m.fetchClientSecret)
}

// ProviderClientSecret returns the provider's client secret from the
// secret's JSON object {"<provider id>": "<secret>", …}. A provider
// without one fails alone, named in the error.
func (m *SecretsManager) ProviderClientSecret(ctx context.Context, id string) (Secret, error) {
	all, err := m.providerSecrets.get(ctx, m.now, m.ttl(), m.fetchProviderSecrets)
	if err != nil {
		return "", err
	}
	s, ok := all[id]
	if !ok {
		return "", fmt.Errorf("oauth: client secret %s: no client secret for provider %q: add \"%s\" to the secret's JSON object", m.ClientSecretARN, id, id)
	}
	return s, nil
}

func (m *SecretsManager) fetchProviderSecrets(ctx context.Context) (map[string]Secret, error) {
	v, err := m.getString(ctx, m.ClientSecretARN, "")
	if err != nil {
		return nil, fmt.Errorf("oauth: client secret: %w", err)
	}
	all, err := parseProviderSecrets(v)
	if err != nil {
		return nil, fmt.Errorf("oauth: client secret %s: %w", m.ClientSecretARN, err)
	}
	return all, nil
}

// Sealer returns a Sealer built from the token key's AWSCURRENT version
// (and its AWSPREVIOUS version once one was needed: see RefreshSealer).
func (m *SecretsManager) Sealer(ctx context.Context) (*Sealer, error) {
	v, err := m.sealer.get(ctx, m.now, m.ttl(), m.fetchSealer)
	return v.key, err
}

// AppKeys returns the app key's AWSCURRENT version (Current) and, once one
// was needed (see RefreshAppKeys) and there is one, its AWSPREVIOUS version
// (Previous).
func (m *SecretsManager) AppKeys(ctx context.Context) (connect.Keys, error) {
	v, err := m.appKeys.get(ctx, m.now, m.ttl(), m.fetchAppKeys)
	return v.key, err
}

// Format prints the ARNs and the TTL, never a cached value, for every verb.
func (m *SecretsManager) Format(f fmt.State, verb rune) {
	fmt.Fprintf(f, "oauth.SecretsManager{ClientSecretARN: %q, TokenKeyARN: %q, AppKeyARN: %q, TTL: %v}", m.ClientSecretARN, m.TokenKeyARN, m.AppKeyARN, m.ttl())
}

// minForcedRefresh is the least time between two fetches of a key that
// bypass the cache: a value no fresh key opens (tampered, sealed with a key
// older than AWSPREVIOUS, an attacker's signature) must not make every call
// fetch.
const minForcedRefresh = 30 * time.Second

// RefreshSealer fetches the token key's AWSCURRENT and AWSPREVIOUS versions
// again, bypassing the cache, unless they were both fetched less than 30 s
// ago: for a value sealed in another execution environment with a token key
// rotated since this one cached it, or sealed before the last rotation.
func (m *SecretsManager) RefreshSealer(ctx context.Context) (*Sealer, error) {
	m.sealerPrevious.Store(true)
	expireForced(&m.sealer, m.now())
	return m.Sealer(ctx)
}

// RefreshAppKeys is RefreshSealer for the app key: for a signature that
// does not verify with the cached app key (made with a key rotated since,
// or with AWSPREVIOUS).
func (m *SecretsManager) RefreshAppKeys(ctx context.Context) (connect.Keys, error) {
	m.appPrevious.Store(true)
	expireForced(&m.appKeys, m.now())
	return m.AppKeys(ctx)
}

// expireForced drops c's value if it lacks AWSPREVIOUS or was fetched at
// least minForcedRefresh ago.
func expireForced[T any](c *cache[versions[T]], now time.Time) {
	c.expireIf(func(v versions[T], at time.Time) bool {
		return !v.withPrevious || now.Sub(at) >= minForcedRefresh
	})
}

func (m *SecretsManager) now() time.Time {
	if m.Now == nil {
		return time.Now()
	}
	return m.Now()
}

func (m *SecretsManager) ttl() time.Duration {
	if m.TTL <= 0 {
		return DefaultSecretsTTL
	}
	return m.TTL
}

func (m *SecretsManager) fetchClientSecret(ctx context.Context) (Secret, error) {
	v, err := m.getString(ctx, m.ClientSecretARN, "")
	if err != nil {
		return "", fmt.Errorf("oauth: client secret: %w", err)
	}
	s, err := parseClientSecret(v)
	if err != nil {
		return "", fmt.Errorf("oauth: client secret %s: %w", m.ClientSecretARN, err)
	}
	return s, nil
}

// parseClientSecret reads a plain string (surrounding white space removed)
// or a JSON object's "client_secret" string. Errors never contain the value.
func parseClientSecret(v string) (Secret, error) {
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(v), &obj) == nil && obj != nil {
		var s string
		if raw, ok := obj[clientSecretKey]; !ok || json.Unmarshal(raw, &s) != nil || s == "" {
			return "", fmt.Errorf("JSON value without a non-empty %q string", clientSecretKey)
		}
		return Secret(s), nil
	}
	s := strings.TrimSpace(v)
	if s == "" {
		return "", errors.New("value is empty")
	}
	return Secret(s), nil
}

func (m *SecretsManager) fetchSealer(ctx context.Context) (versions[*Sealer], error) {
	withPrevious := m.sealerPrevious.Load()
	current, previous, err := m.getVersions(ctx, m.TokenKeyARN, withPrevious, "token key", MinTokenKeyLen)
	if err != nil {
		return versions[*Sealer]{}, fmt.Errorf("oauth: token key: %w", err)
	}
	s, err := NewSealer(current, previous...)
	if err != nil {
		return versions[*Sealer]{}, fmt.Errorf("%w (secret %s)", err, m.TokenKeyARN)
	}
	return versions[*Sealer]{s, withPrevious}, nil
}

func (m *SecretsManager) fetchAppKeys(ctx context.Context) (versions[connect.Keys], error) {
	withPrevious := m.appPrevious.Load()
	current, previous, err := m.getVersions(ctx, m.AppKeyARN, withPrevious, "app key", connect.MinKeyLen)
	if err != nil {
		return versions[connect.Keys]{}, fmt.Errorf("oauth: app key: %w", err)
	}
	if len(current) < connect.MinKeyLen {
		return versions[connect.Keys]{}, fmt.Errorf("oauth: app key %s: shorter than %d characters", m.AppKeyARN, connect.MinKeyLen)
	}
	k := connect.Keys{Current: current.Reveal()}
	for _, p := range previous {
		k.Previous = append(k.Previous, p.Reveal())
	}
	return versions[connect.Keys]{k, withPrevious}, nil
}

// getVersions fetches a key's AWSCURRENT version and, when withPrevious,
// its AWSPREVIOUS version at the same time (none when the secret was never
// rotated). An AWSPREVIOUS version shorter than minLen is left out (nothing
// was ever signed or sealed with a key that short) and logged once per
// version.
func (m *SecretsManager) getVersions(ctx context.Context, arn string, withPrevious bool, what string, minLen int) (Secret, []Secret, error) {
	if !withPrevious {
		current, _, err := m.getValue(ctx, arn, "AWSCURRENT")
		return Secret(current), nil, err
	}
	var previous, previousID string
	var previousErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		previous, previousID, previousErr = m.getValue(ctx, arn, "AWSPREVIOUS")
	}()
	current, _, err := m.getValue(ctx, arn, "AWSCURRENT")
	<-done
	switch {
	case err != nil:
		return "", nil, err
	case isNotFound(previousErr):
		return Secret(current), nil, nil // never rotated: no AWSPREVIOUS version
	case previousErr != nil:
		return "", nil, previousErr
	case len(previous) < minLen:
		if _, logged := m.shortLogged.LoadOrStore(arn+" "+previousID, true); !logged {
			m.log().Warn("the previous version of a key is too short and is ignored: nothing it signed or sealed is accepted",
				"key", what, "secret", arn, "version_stage", "AWSPREVIOUS", "version_id", previousID, "min_length", minLen,
				"fix", "nothing to do unless values made with that version must still be accepted; it leaves AWSPREVIOUS at the next rotation")
		}
		return Secret(current), nil, nil
	}
	return Secret(current), []Secret{Secret(previous)}, nil
}

func (m *SecretsManager) log() *slog.Logger {
	if m.Log == nil {
		return slog.Default()
	}
	return m.Log
}

// getString fetches the string value of a secret's version stage ("" for
// the default, AWSCURRENT).
func (m *SecretsManager) getString(ctx context.Context, arn, stage string) (string, error) {
	v, _, err := m.getValue(ctx, arn, stage)
	return v, err
}

// getValue fetches the string value and version id of a secret's version
// stage ("" for the default, AWSCURRENT).
func (m *SecretsManager) getValue(ctx context.Context, arn, stage string) (string, string, error) {
	if m.Client == nil || arn == "" {
		return "", "", errors.New("no Secrets Manager client or secret ARN configured")
	}
	in := &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)}
	name := arn
	if stage != "" {
		in.VersionStage = aws.String(stage)
		name += " (" + stage + ")"
	}
	out, err := m.Client.GetSecretValue(ctx, in)
	if err != nil {
		return "", "", fmt.Errorf("get secret value %s: %w", name, err)
	}
	if out.SecretString == nil {
		return "", "", fmt.Errorf("secret %s has no string value (binary secrets are not supported)", name)
	}
	return *out.SecretString, aws.ToString(out.VersionId), nil
}

func isNotFound(err error) bool {
	var nf *types.ResourceNotFoundException
	return errors.As(err, &nf)
}

// cache holds one fetched value, behind a pointer: fmt prints a pointer
// found in a field as an address.
type cache[T any] struct {
	mu       sync.Mutex
	entry    *cacheEntry[T]
	inflight *cacheCall[T]
}

type cacheEntry[T any] struct {
	val T
	at  time.Time
}

type cacheCall[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// expireIf drops the cached value if drop says so, given the value and
// when it was fetched.
func (c *cache[T]) expireIf(drop func(val T, at time.Time) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.entry; e != nil && drop(e.val, e.at) {
		c.entry = nil
	}
}

// fresh reports whether c holds a value younger than ttl at now (get would
// return it without a fetch).
func (c *cache[T]) fresh(now time.Time, ttl time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.entry
	return e != nil && now.Sub(e.at) < ttl && !now.Before(e.at)
}

// get returns the cached value if it is younger than ttl, else fetches it,
// sharing one fetch among concurrent callers.
func (c *cache[T]) get(ctx context.Context, now func() time.Time, ttl time.Duration, fetch func(context.Context) (T, error)) (T, error) {
	t := now()
	c.mu.Lock()
	if e := c.entry; e != nil && t.Sub(e.at) < ttl && !t.Before(e.at) {
		c.mu.Unlock()
		return e.val, nil
	}
	if call := c.inflight; call != nil {
		c.mu.Unlock()
		select {
		case <-call.done:
			return call.val, call.err
		case <-ctx.Done():
			var zero T
			return zero, fmt.Errorf("oauth: wait for secret: %w", ctx.Err())
		}
	}
	call := &cacheCall[T]{done: make(chan struct{})}
	c.inflight = call
	c.mu.Unlock()

	// The fetch is shared: it must not end with the first caller's context
	// (a short app deadline would fail every waiter), so it runs detached,
	// bounded by its own timeout; this caller still stops at its context.
	go func() {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), secretFetchTimeout)
		defer cancel()
		defer func() {
			c.mu.Lock()
			if call.err == nil {
				c.entry = &cacheEntry[T]{val: call.val, at: t}
			}
			c.inflight = nil
			c.mu.Unlock()
			close(call.done)
		}()
		call.val, call.err = fetch(fctx)
	}()
	select {
	case <-call.done:
		return call.val, call.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("oauth: wait for secret: %w", ctx.Err())
	}
}

// secretFetchTimeout bounds one shared Secrets Manager fetch.
const secretFetchTimeout = 10 * time.Second

// StaticSecrets holds local-development values (OAUTH_CLIENT_SECRET,
// OAUTH_TOKEN_KEY, OAUTH_APP_KEY). Build it with NewStaticSecrets.
type StaticSecrets struct {
	clientSecret *Secret // behind a pointer: fmt prints an address, never the value
	byProvider   *map[string]Secret
	sealer       *Sealer
	appKeys      connect.Keys // prints redacted
}

// NewStaticSecrets checks the values and builds the Sealer once.
func NewStaticSecrets(clientSecret, tokenKey, appKey Secret) (*StaticSecrets, error) {
	if clientSecret == "" {
		return nil, errors.New("oauth: client secret is empty")
	}
	if len(appKey) < connect.MinKeyLen {
		return nil, fmt.Errorf("oauth: app key is shorter than %d characters", connect.MinKeyLen)
	}
	sealer, err := NewSealer(tokenKey)
	if err != nil {
		return nil, err
	}
	return &StaticSecrets{clientSecret: &clientSecret, sealer: sealer, appKeys: connect.Keys{Current: appKey.Reveal()}}, nil
}

// Format prints the token key id, never a secret, for every verb.
func (s StaticSecrets) Format(f fmt.State, verb rune) {
	kid := ""
	if s.sealer != nil {
		kid = s.sealer.KeyID()
	}
	fmt.Fprintf(f, "oauth.StaticSecrets{ClientSecret: REDACTED, TokenKeyID: %s}", kid)
}

// ClientSecret returns the client secret.
func (s *StaticSecrets) ClientSecret(context.Context) (Secret, error) { return *s.clientSecret, nil }

// ProviderClientSecret returns the provider's client secret (a local
// OAUTH_CLIENT_SECRET next to OAUTH_PROVIDERS: a JSON object, provider id
// -> secret).
func (s *StaticSecrets) ProviderClientSecret(_ context.Context, id string) (Secret, error) {
	if s.byProvider == nil {
		return "", errors.New("oauth: client secret: OAUTH_CLIENT_SECRET holds one secret, not a JSON object of one per provider")
	}
	v, ok := (*s.byProvider)[id]
	if !ok {
		return "", fmt.Errorf("oauth: client secret: no client secret for provider %q in OAUTH_CLIENT_SECRET", id)
	}
	return v, nil
}

// Sealer returns the Sealer built from the token key.
func (s *StaticSecrets) Sealer(context.Context) (*Sealer, error) { return s.sealer, nil }

// AppKeys returns the app key (no previous version locally).
func (s *StaticSecrets) AppKeys(context.Context) (connect.Keys, error) { return s.appKeys, nil }

// SecretsFromConfig returns SecretsManager when cfg names secret ARNs (client
// is then required; usually secretsmanager.NewFromConfig) and StaticSecrets
// when it holds plain local-development values. All three ARNs or none:
// mixing a Secrets Manager secret with a plain value is refused.
func SecretsFromConfig(cfg Config, client SecretsManagerAPI) (Secrets, error) {
	switch {
	case cfg.ClientSecretARN != "" && cfg.TokenKeyARN != "" && cfg.AppKeyARN != "":
		if client == nil {
			return nil, errors.New("oauth: secrets: OAUTH_CLIENT_SECRET_ARN, OAUTH_TOKEN_KEY_ARN and OAUTH_APP_KEY_ARN need a Secrets Manager client")
		}
		m := NewSecretsManager(client, cfg.ClientSecretARN, cfg.TokenKeyARN, DefaultSecretsTTL)
		m.AppKeyARN = cfg.AppKeyARN
		m.ByProvider = cfg.Named()
		return m, nil
	case cfg.ClientSecretARN == "" && cfg.TokenKeyARN == "" && cfg.AppKeyARN == "":
		s, err := NewStaticSecrets(cfg.ClientSecret, cfg.TokenKey, cfg.AppKey)
		if err != nil {
			return nil, err // names the value; never contains it
		}
		if cfg.Named() {
			byProvider := cfg.ClientSecrets
			s.byProvider = &byProvider
		}
		return s, nil
	default:
		return nil, errors.New("oauth: secrets: set all of OAUTH_CLIENT_SECRET_ARN, OAUTH_TOKEN_KEY_ARN and OAUTH_APP_KEY_ARN, or none (then OAUTH_CLIENT_SECRET, OAUTH_TOKEN_KEY and OAUTH_APP_KEY)")
	}
}
