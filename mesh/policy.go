package mesh

import (
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"

	"github.com/plexusnet/plexus/mesh/internal/base"
)

// Certificate policy: what a node's certificate lets it do beyond being a
// member of the mesh. The mesh CA writes, in a node's certificate, URI
// SANs that name the services the node may serve and the groups it
// belongs to:
//
//	plexus:service/NAME       service NAME of the default env
//	plexus:service/ENV/NAME   service NAME of env ENV
//	plexus:service/ENV/*      every service of env ENV
//	plexus:group/NAME         the node belongs to group NAME
//
// NAME and ENV follow the rules of service and env names (base.CheckName,
// base.CheckEnv); a group name follows those of service names. A URI SAN
// of the plexus scheme that breaks them grants nothing. A node that enforces
// certificate policy (WithCertPolicy) believes a service of another node
// only if the node's certificate names it; a listener with AllowGroups
// admits only callers whose certificate names one of its groups.

// The prefixes of the URI SANs of certificate policy.
const (
	grantScheme  = "plexus:"
	grantService = grantScheme + "service/"
	grantGroup   = grantScheme + "group/"
	grantAnyName = "*" // in plexus:service/ENV/*: every service of ENV
)

// Grants are what a node's certificate grants it under certificate
// policy: the services it may serve (WithCertPolicy) and the groups it
// belongs to (AllowGroups). CertGrants reads them from a certificate;
// URIs writes them as the URI SANs to put in one.
type Grants struct {
	Services []ServiceGrant
	Groups   []string
	// Invalid are the URI SANs of the plexus scheme that CertGrants
	// found malformed (an unknown kind, a bad name or env): they grant
	// nothing.
	Invalid []string
}

// ServiceGrant is a service a certificate lets its node serve: Name in
// Env ("" is the default env), or, when Name is "*", every service of
// Env (not of the default env).
type ServiceGrant struct {
	Env  string
	Name string
}

// String returns the grant as plexus cert node --service takes it: NAME,
// ENV/NAME or ENV/*.
func (s ServiceGrant) String() string {
	if s.Env == "" {
		return s.Name
	}
	return s.Env + "/" + s.Name
}

// URI returns the grant as a URI SAN: plexus:service/NAME,
// plexus:service/ENV/NAME or plexus:service/ENV/*.
func (s ServiceGrant) URI() string { return grantService + s.String() }

// ParseServiceGrant reads a service grant written NAME (the default env),
// ENV/NAME or ENV/*. A name or env that mesh would refuse is an error for
// which errors.Is(err, ErrBadAddress) holds.
func ParseServiceGrant(s string) (ServiceGrant, error) {
	env, name, hasEnv := strings.Cut(s, "/")
	if !hasEnv {
		env, name = "", s
	}
	switch {
	case hasEnv && env == "":
		return ServiceGrant{}, fmt.Errorf("%w: service grant %q: empty env (a service of the default env is written NAME)", ErrBadAddress, s)
	case name == grantAnyName && !hasEnv:
		return ServiceGrant{}, fmt.Errorf("%w: service grant %q: '*' stands for every service of an env: write ENV/*", ErrBadAddress, s)
	}
	if err := base.CheckEnv(env); err != nil {
		return ServiceGrant{}, fmt.Errorf("service grant %q: %w", s, err)
	}
	if name != grantAnyName {
		if err := base.CheckName("service", name); err != nil {
			return ServiceGrant{}, fmt.Errorf("service grant %q: %w", s, err)
		}
	}
	return ServiceGrant{Env: env, Name: name}, nil
}

// checkGroup reports whether s may be a group name: as a service name.
func checkGroup(s string) error { return base.CheckName("group", s) }

// CertGrants returns what cert grants under certificate policy: the
// services and groups its URI SANs of the plexus scheme name, in their
// order. A malformed one grants nothing and is listed in Invalid; URI
// SANs of other schemes are ignored. A certificate without such SANs
// grants nothing: its node may serve no service under certificate policy
// and belongs to no group.
func CertGrants(cert *x509.Certificate) Grants {
	var g Grants
	if cert == nil {
		return g
	}
	for _, u := range cert.URIs {
		s := u.String()
		if !strings.HasPrefix(s, grantScheme) {
			continue
		}
		if !g.add(s) {
			g.Invalid = append(g.Invalid, s)
		}
	}
	return g
}

// add adds the grant of the URI SAN s, and reports whether s was one.
func (g *Grants) add(s string) bool {
	if name, ok := strings.CutPrefix(s, grantGroup); ok {
		if checkGroup(name) != nil {
			return false
		}
		if !slices.Contains(g.Groups, name) {
			g.Groups = append(g.Groups, name)
		}
		return true
	}
	rest, ok := strings.CutPrefix(s, grantService)
	if !ok {
		return false
	}
	sg, err := ParseServiceGrant(rest)
	if err != nil {
		return false
	}
	if !slices.Contains(g.Services, sg) {
		g.Services = append(g.Services, sg)
	}
	return true
}

// MayServe reports whether g grants the service name of env.
func (g Grants) MayServe(env, name string) bool {
	for _, s := range g.Services {
		if s.Env == env && (s.Name == name || s.Name == grantAnyName && env != "") {
			return true
		}
	}
	return false
}

// HasGroup reports whether g names the group.
func (g Grants) HasGroup(group string) bool { return slices.Contains(g.Groups, group) }

// URIs returns the grants as the URI SANs to put in a certificate (the
// URIs field of an x509.Certificate template), services first. A
// malformed service or group is an error for which errors.Is(err,
// ErrBadAddress) holds, and nothing is returned: a certificate is never
// written with a SAN that would grant nothing. Invalid is ignored.
func (g Grants) URIs() ([]*url.URL, error) {
	var out []*url.URL
	seen := make(map[string]bool)
	put := func(s string) error {
		if seen[s] {
			return nil
		}
		seen[s] = true
		u, err := url.Parse(s)
		if err != nil || u.String() != s {
			return fmt.Errorf("%w: %q is not a URI that reads back as itself", ErrBadAddress, s)
		}
		out = append(out, u)
		return nil
	}
	for _, s := range g.Services {
		p, err := ParseServiceGrant(s.String())
		if err == nil && p != s {
			err = fmt.Errorf("%w: service grant of env %q and name %q: a name or env cannot hold '/'", ErrBadAddress, s.Env, s.Name)
		}
		if err != nil {
			return nil, err
		}
		if err := put(s.URI()); err != nil {
			return nil, err
		}
	}
	for _, name := range g.Groups {
		if err := checkGroup(name); err != nil {
			return nil, err
		}
		if err := put(grantGroup + name); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// errCertPolicyInsecure refuses WithCertPolicy without WithTLS.
var errCertPolicyInsecure = errors.New("mesh: WithCertPolicy needs WithTLS: certificate policy reads the services and groups that node certificates name, and an insecure node has no certificates")

// ListenOption configures a listener; give them to Listen (or Bind).
type ListenOption func(*listenOptions)

// listenOptions are the options of one listener.
type listenOptions struct {
	groups   []string // AllowGroups: callers must be in one of them; nil: anyone
	allowSet bool     // AllowGroups was given (maybe with no name)
	allowBad error    // the first malformed group name given to AllowGroups
}

// AllowGroups admits to the listener only the callers whose certificate
// names one of the groups (URI SANs plexus:group/NAME, see CertGrants).
// It applies to every connection to the listener, by service name or by
// host:port, from a neighbour, through relays, or from this node itself
// (whose own certificate then counts). A caller in none of them is refused
// with ErrNotAuthorized before anything of the connection reaches the
// listener: Accept never returns it, and Stats counts it
// (ConnsNotAuthorized). Several AllowGroups add up. It needs a secured
// node (WithTLS): Listen fails otherwise, as it does for no group or a
// malformed group name.
func AllowGroups(names ...string) ListenOption {
	return func(o *listenOptions) {
		o.allowSet = true
		for _, n := range names {
			if err := checkGroup(n); err != nil && o.allowBad == nil {
				o.allowBad = err
			}
			if !slices.Contains(o.groups, n) {
				o.groups = append(o.groups, n)
			}
		}
	}
}

// listenOpts applies opts and checks them for a node.
func (c *core) listenOpts(opts []ListenOption) (listenOptions, error) {
	var o listenOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	switch {
	case !o.allowSet:
	case o.allowBad != nil:
		return o, fmt.Errorf("AllowGroups: %w", o.allowBad)
	case len(o.groups) == 0:
		return o, fmt.Errorf("%w: AllowGroups with no group would admit no one", ErrBadAddress)
	case c.ident == nil:
		return o, errors.New("mesh: AllowGroups needs a secured node (WithTLS): on an insecure node callers have no certificate, so no group can be checked")
	}
	return o, nil
}

// admits reports whether the listener admits a caller whose certificate
// grants g (nil: the caller has no certificate).
func (l *listener) admits(g *Grants) bool {
	if l.groups == nil {
		return true
	}
	if g == nil {
		return false
	}
	for _, name := range l.groups {
		if g.HasGroup(name) {
			return true
		}
	}
	return false
}

// notAuthorized counts and logs a connection from host from that l
// refuses (AllowGroups).
func (c *core) notAuthorized(l *listener, from uint64) {
	c.stats.connsNotAuthorized.Add(1)
	c.logf(slog.LevelDebug, "mesh: connection refused: the caller's certificate names none of the listener's groups",
		"from", c.who(from), "addr", l.Addr().String(), "service", l.name, "groups", l.groups)
}

// ownService logs, when our certificate does not name the service name of
// env that we bind, that nodes that enforce certificate policy ignore it.
func (c *core) ownService(env, name string) {
	if c.ident == nil || name == "" || c.ident.creds().own.grants.MayServe(env, name) {
		return
	}
	// Said at INFO by a node that enforces the policy itself (its mesh
	// does, presumably); at DEBUG otherwise, where it is mostly noise.
	level := slog.LevelDebug
	if c.opts.certPolicy {
		level = slog.LevelInfo
	}
	args := []any{"service", name}
	if env != "" {
		args = append(args, "env", env)
	}
	c.logf(level, "mesh: our certificate does not name this service: nodes that enforce certificate policy (WithCertPolicy) ignore it", args...)
}

// callerGrants returns the grants of the host from which a connection
// came: g, those of the link's or circuit's peer certificate, or, on the
// self session, those of our own current certificate.
func (c *core) callerGrants(from uint64, g *Grants) *Grants {
	if from == c.id && c.ident != nil {
		return c.ident.creds().own.grants
	}
	return g
}

// grantsOf returns what leaf grants, for the cache of verified chains:
// read once per chain, shared by every link, circuit and record it proves.
func grantsOf(leaf *x509.Certificate) *Grants {
	g := CertGrants(leaf)
	return &g
}
