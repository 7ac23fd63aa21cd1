package transport

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// registry maps URL schemes to transports. It is the one piece of
// process-wide state of the transport layer, filled by the init functions
// of transport packages.
var registry struct {
	mu sync.RWMutex
	m  map[string]Transport
}

// Register makes t available to every socket under t.Scheme(). It is meant
// to be called from a transport package's init function. Registering a
// scheme twice panics, as a duplicate is a programming error found at
// start-up.
func Register(t Transport) {
	s := strings.ToLower(t.Scheme())
	if s == "" {
		panic("transport: Register with an empty scheme")
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.m == nil {
		registry.m = make(map[string]Transport)
	}
	if _, dup := registry.m[s]; dup {
		panic("transport: scheme " + s + " registered twice")
	}
	registry.m[s] = t
}

// Lookup returns the registered transport for scheme.
func Lookup(scheme string) (Transport, bool) {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	t, ok := registry.m[strings.ToLower(scheme)]
	return t, ok
}

// Schemes lists the registered schemes, sorted.
func Schemes() []string {
	registry.mu.RLock()
	defer registry.mu.RUnlock()
	s := make([]string, 0, len(registry.m))
	for k := range registry.m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// ParseURL parses an endpoint address of the form scheme://rest. It only
// checks the general shape; each transport checks the rest.
func ParseURL(raw string) (*url.URL, error) {
	i := strings.Index(raw, "://")
	if i <= 0 {
		return nil, fmt.Errorf("%w: %q: want scheme://address", ErrBadURL, raw)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrBadURL, raw, err)
	}
	u.Scheme = strings.ToLower(u.Scheme)
	return u, nil
}

// Resolve parses raw and finds its transport, first among extra (transports
// given to one socket) and then in the registry.
func Resolve(raw string, extra []Transport) (*url.URL, Transport, error) {
	u, err := ParseURL(raw)
	if err != nil {
		return nil, nil, err
	}
	for _, t := range extra {
		if strings.EqualFold(t.Scheme(), u.Scheme) {
			return u, t, nil
		}
	}
	if t, ok := Lookup(u.Scheme); ok {
		return u, t, nil
	}
	return nil, nil, fmt.Errorf("%w: %q in %q (known: %s)", ErrUnknownScheme, u.Scheme, raw, strings.Join(Schemes(), ", "))
}

// HostPort returns the host:port of a tcp-like URL, checking that a port
// is present and that nothing else (path, query, user) is.
func HostPort(u *url.URL) (string, error) {
	if u.Host == "" {
		return "", fmt.Errorf("%w: %s://: missing host:port", ErrBadURL, u.Scheme)
	}
	if u.Port() == "" {
		return "", fmt.Errorf("%w: %s://%s: missing port", ErrBadURL, u.Scheme, u.Host)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
		return "", fmt.Errorf("%w: %s: only %s://host:port is allowed", ErrBadURL, u.Redacted(), u.Scheme)
	}
	return u.Host, nil
}
