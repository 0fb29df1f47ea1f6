package oauth

import (
	"errors"
	"maps"
	"strings"
	"testing"
)

func TestParseQuery(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    map[string]string
		wantErr string // substring; "" means success
	}{
		{name: "empty", raw: "", want: map[string]string{}},
		{name: "code and state", raw: "code=abc&state=xyz", want: map[string]string{"code": "abc", "state": "xyz"}},
		{name: "percent and plus decoding", raw: "error_description=you+said%20no", want: map[string]string{"error_description": "you said no"}},
		{name: "empty value is absent", raw: "code=&state=s", want: map[string]string{"state": "s"}},
		{name: "bare key is absent", raw: "code&state=s", want: map[string]string{"state": "s"}},
		{name: "unknown params ignored", raw: "state=s&iss=https%3A%2F%2Fidp&session_state=1", want: map[string]string{"state": "s", "iss": "https://idp"}},
		{name: "stray ampersands", raw: "&&state=s&", want: map[string]string{"state": "s"}},
		{name: "repeated known param", raw: "state=a&state=b", wantErr: `"state" is repeated`},
		{name: "repeated empty then value", raw: "code=&code=x", wantErr: `"code" is repeated`},
		{name: "repeated unknown param", raw: "x=1&x=2", wantErr: "repeats a parameter"},
		{name: "repeat with encoded name", raw: "state=a&st%61te=b", wantErr: `"state" is repeated`},
		{name: "bad percent encoding", raw: "state=%zz", wantErr: "percent-encoding"},
		{name: "bad name encoding", raw: "%zz=1", wantErr: "malformed parameter name"},
		{name: "oversized state", raw: "state=" + strings.Repeat("a", 129), wantErr: "longer than 128"},
		{name: "state at limit", raw: "state=" + strings.Repeat("a", 128), want: map[string]string{"state": strings.Repeat("a", 128)}},
		{name: "oversized code", raw: "code=" + strings.Repeat("c", 4097), wantErr: "longer than 4096"},
		{name: "oversized raw query", raw: strings.Repeat("x", maxRawQuery+1), wantErr: "too long"},
		{name: "overlong name", raw: strings.Repeat("n", 65) + "=1", wantErr: "overlong"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseQuery(tt.raw, callbackLimits)
			if tt.wantErr != "" {
				var qe *queryError
				if err == nil || !errors.As(err, &qe) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseQuery(%q) error = %v, want one containing %q", tt.raw, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseQuery(%q) error = %v", tt.raw, err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("parseQuery(%q) = %v, want %v", tt.raw, got, tt.want)
			}
		})
	}
}

func TestQueryErrorNeverCarriesValue(t *testing.T) {
	secret := "sekrit-value-<script>"
	for _, raw := range []string{"state=" + secret + "&state=" + secret, "code=" + strings.Repeat(secret, 500)} {
		_, err := parseQuery(raw, callbackLimits)
		if err == nil || strings.Contains(err.Error(), "sekrit") {
			t.Errorf("parseQuery error %v: want an error without the value", err)
		}
	}
}
