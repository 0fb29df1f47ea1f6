// Package apigw serves a Lambda handler for API Gateway HTTP APIs (payload
// format 2.0) over plain net/http, so the local dev server runs the same
// handlers as production.
//
// The request event is built the way API Gateway builds it
// (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html):
//
//   - rawPath is the request path exactly as received, still percent-encoded
//     (%2F, %2e and the case of the hex digits kept; see RawPath),
//     rawQueryString the query exactly as received; queryStringParameters
//     holds the decoded values, a repeated parameter joined with commas
//     ("a=1&a=2" gives "1,2"). requestContext.http.path is the decoded path.
//   - header names are lower-cased, repeated headers joined with commas; the
//     Cookie header is removed and its cookies listed in cookies; host and
//     x-forwarded-for/-port/-proto are added as API Gateway adds them.
//   - requestContext carries stage "$default", routeKey "$default", a random
//     requestId, time and timeEpoch, domainName (r.Host, with its port when
//     the dev server listens on one) and http {method, path, protocol,
//     sourceIp, userAgent}.
//   - a body whose Content-Type is textual (text/*, JSON, XML, JavaScript) is
//     passed as is; any other body is base64-encoded with isBase64Encoded
//     set, as HTTP APIs infer it from the content type.
//
// The response is written the way API Gateway writes it: statusCode,
// headers, each entry of cookies as its own Set-Cookie header, body
// (base64-decoded when isBase64Encoded). As with payload format 2.0,
// multiValueHeaders is not part of the response format and is ignored, so a
// handler that relies on it fails here as it would in production. No
// Content-Type is added when the handler sets none.
//
// A handler that returns an error or panics, or a response API Gateway would
// reject (status outside 100–599, a body flagged base64 that is not), gives
// 502 with {"message":"Internal Server Error"}; the error itself is never
// sent to the client.
package apigw

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// MaxBodyBytes is API Gateway's request payload limit (10 MB).
const MaxBodyBytes = 10 << 20

// Stage is the stage name every event carries (an HTTP API's default stage).
const Stage = "$default"

// internalError is API Gateway's body for a failed integration.
const internalError = `{"message":"Internal Server Error"}`

// HandlerFunc is the typed Lambda handler for an HTTP API route.
type HandlerFunc = func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

// Handler returns an http.Handler that turns each request into an
// events.APIGatewayV2HTTPRequest, calls fn, and writes its
// events.APIGatewayV2HTTPResponse back. The context passed to fn is the
// request's, with a lambdacontext.LambdaContext whose AwsRequestID is the
// event's requestId.
func Handler(fn HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		ev, status := Event(r, now)
		if status != 0 {
			writeGatewayError(w, status, ev.RequestContext.RequestID)
			return
		}
		ctx := lambdacontext.NewContext(r.Context(), &lambdacontext.LambdaContext{
			AwsRequestID: ev.RequestContext.RequestID,
		})
		resp, err := invoke(ctx, fn, ev)
		if err != nil {
			writeGatewayError(w, http.StatusBadGateway, ev.RequestContext.RequestID)
			return
		}
		WriteResponse(w, resp, ev.RequestContext.RequestID)
	})
}

// invoke calls fn, turning a panic into an error as the Lambda runtime does.
func invoke(ctx context.Context, fn HandlerFunc, ev events.APIGatewayV2HTTPRequest) (resp events.APIGatewayV2HTTPResponse, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = errPanic
		}
	}()
	return fn(ctx, ev)
}

var errPanic = errors.New("apigw: handler panicked")

// Event builds the payload format 2.0 event for r at time now. A non-zero
// status means API Gateway would have answered the request itself
// (413 for a body over MaxBodyBytes, 400 for an unreadable body); the
// returned event then carries only its requestId.
func Event(r *http.Request, now time.Time) (events.APIGatewayV2HTTPRequest, int) {
	reqID := requestID()
	ev := events.APIGatewayV2HTTPRequest{
		Version:        "2.0",
		RouteKey:       "$default",
		RawPath:        RawPath(r),
		RawQueryString: r.URL.RawQuery,
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:   "$default",
			Stage:      Stage,
			RequestID:  reqID,
			DomainName: r.Host,
			Time:       now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:  now.UnixMilli(),
		},
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	ev.RequestContext.DomainPrefix, _, _ = strings.Cut(host, ".")
	sourceIP := r.RemoteAddr
	if h, _, err := net.SplitHostPort(sourceIP); err == nil {
		sourceIP = h
	}
	ev.RequestContext.HTTP = events.APIGatewayV2HTTPRequestContextHTTPDescription{
		Method:    r.Method,
		Path:      r.URL.Path,
		Protocol:  r.Proto,
		SourceIP:  sourceIP,
		UserAgent: r.UserAgent(),
	}

	ev.QueryStringParameters = queryParameters(r.URL.RawQuery)
	ev.Headers, ev.Cookies = headers(r, sourceIP)

	if r.Body != nil {
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			return ev, http.StatusBadRequest
		}
		if len(body) > MaxBodyBytes {
			return ev, http.StatusRequestEntityTooLarge
		}
		if len(body) > 0 {
			if isText(r.Header.Get("Content-Type")) {
				ev.Body = string(body)
			} else {
				ev.Body = base64.StdEncoding.EncodeToString(body)
				ev.IsBase64Encoded = true
			}
		}
	}
	return ev, 0
}

// RawPath is r's path exactly as the client sent it: the request target's
// path (before any '?'), percent-encoding untouched. net/http's
// URL.EscapedPath re-encodes a path it deems wrongly escaped (a raw '|' or
// '"' becomes %7C, %22), and a handler that checks the path as the client
// sent it (the BFF's API proxy) must see what API Gateway would pass on.
// For a request not in origin form (made in-process, or an absolute-form
// target) it falls back to the URL's escaped path.
func RawPath(r *http.Request) string {
	target := r.RequestURI
	if !strings.HasPrefix(target, "/") {
		return r.URL.EscapedPath()
	}
	path, _, _ := strings.Cut(target, "?")
	return path
}

// queryParameters decodes a raw query the way API Gateway fills
// queryStringParameters: values decoded, repeats joined with commas, in the
// order received. Pairs that do not decode are passed through raw. Nil when
// the query is empty (the field is then absent from the event).
func queryParameters(raw string) map[string]string {
	if raw == "" {
		return nil
	}
	params := map[string]string{}
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		if old, ok := params[k]; ok {
			params[k] = old + "," + v
		} else {
			params[k] = v
		}
	}
	if len(params) == 0 {
		return nil
	}
	return params
}

// headers lower-cases and comma-joins r's headers, moves cookies out of the
// Cookie header, and adds the headers API Gateway adds.
func headers(r *http.Request, sourceIP string) (map[string]string, []string) {
	h := make(map[string]string, len(r.Header)+4)
	var cookies []string
	for name, values := range r.Header {
		lower := strings.ToLower(name)
		if lower == "cookie" {
			for _, v := range values {
				for c := range strings.SplitSeq(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		h[lower] = strings.Join(values, ",")
	}
	h["host"] = r.Host
	if _, ok := h["content-length"]; !ok && r.ContentLength > 0 {
		h["content-length"] = strconv.FormatInt(r.ContentLength, 10)
	}
	if xff := h["x-forwarded-for"]; xff != "" {
		h["x-forwarded-for"] = xff + ", " + sourceIP
	} else {
		h["x-forwarded-for"] = sourceIP
	}
	proto, port := "http", "80"
	if r.TLS != nil {
		proto, port = "https", "443"
	}
	if _, p, err := net.SplitHostPort(r.Host); err == nil {
		port = p
	}
	h["x-forwarded-proto"] = proto
	h["x-forwarded-port"] = port
	return h, cookies
}

// isText reports whether API Gateway passes a body of this content type as
// text rather than base64.
func isText(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		mt == "application/json", strings.HasSuffix(mt, "+json"),
		mt == "application/xml", strings.HasSuffix(mt, "+xml"),
		mt == "application/javascript":
		return true
	}
	return false
}

// WriteResponse writes a handler's response as API Gateway does (see the
// package doc). requestID is sent as the apigw-requestid header.
func WriteResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse, requestID string) {
	if resp.StatusCode < 100 || resp.StatusCode > 599 {
		writeGatewayError(w, http.StatusBadGateway, requestID)
		return
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			writeGatewayError(w, http.StatusBadGateway, requestID)
			return
		}
		body = b
	}
	h := w.Header()
	for k, v := range resp.Headers {
		h.Set(k, v)
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	if h.Get("Content-Type") == "" {
		h["Content-Type"] = nil // API Gateway adds none; stop net/http sniffing one
	}
	h.Set("Apigw-Requestid", requestID)
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
}

// writeGatewayError answers as API Gateway does when the integration fails.
func writeGatewayError(w http.ResponseWriter, status int, requestID string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Apigw-Requestid", requestID)
	w.WriteHeader(status)
	switch status {
	case http.StatusRequestEntityTooLarge:
		_, _ = io.WriteString(w, `{"message":"Request Entity Too Large"}`)
	case http.StatusBadRequest:
		_, _ = io.WriteString(w, `{"message":"Bad Request"}`)
	default:
		_, _ = io.WriteString(w, internalError)
	}
}

// requestID returns a random id shaped like API Gateway's ("JKJaXmPLvHcESHA=").
func requestID() string {
	b := make([]byte, 11)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}
