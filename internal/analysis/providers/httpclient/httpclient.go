// Package httpclient builds the HTTP clients of the web and prometheus metric providers:
// request timeout, TLS verification that can be turned off, and the authentication a
// metric asks for (basic or OAuth2 client credentials).
package httpclient

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// New returns a client for one measurement. Clients are not shared between metrics: each
// metric has its own TLS and authentication settings, and measurements are seconds apart.
func New(ctx context.Context, timeout time.Duration, insecure bool, auth v1alpha1.Authentication) (*http.Client, error) {
	transport := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
		// Only set when asked: a metric's insecure flag must never leak into others.
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: insecure}, //nolint:gosec // the metric asked for it
		DisableKeepAlives: true,
	}
	base := &http.Client{Timeout: timeout, Transport: transport}
	if auth.Sigv4 != (v1alpha1.Sigv4Config{}) {
		return nil, errors.New("sigv4 authentication is not supported by tern")
	}
	o := auth.OAuth2
	if o.TokenURL == "" {
		if o.ClientID != "" || o.ClientSecret != "" || len(o.Scopes) > 0 {
			return nil, errors.New("oauth2 authentication needs a tokenUrl")
		}
		return base, nil
	}
	cc := clientcredentials.Config{ClientID: o.ClientID, ClientSecret: o.ClientSecret, TokenURL: o.TokenURL, Scopes: o.Scopes}
	// The token request goes through the same transport (TLS settings) and timeout.
	ctx = context.WithValue(ctx, oauth2.HTTPClient, base)
	c := cc.Client(ctx)
	c.Timeout = timeout
	return c, nil
}
