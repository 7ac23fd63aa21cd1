package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/plexusnet/plexus/cmd/plexus/internal/status"
)

// defaultNodeURL is where plexus status and friends look for a node.
const defaultNodeURL = "http://" + defaultHTTP

// statusView is one of the commands that read a node's JSON API: what
// it prints of the snapshot.
type statusView struct {
	name    string
	summary string
	what    string // for the help: what the table lists
	// part is what --json prints of the snapshot.
	part func(*status.Status) any
	// print writes the table.
	print func(w io.Writer, st *status.Status)
}

// statusViews are plexus status, links, routes and services.
func statusViews() []statusView {
	return []statusView{
		{"status", "show a running node: itself, its links, routes, services, circuits",
			"the node (name and id, mesh name, relay, TLS, certificate policy, revocation\nlist, certificate expiry, uptime, listen addresses), then its joins (up,\nconnecting, redialing with the last error and the next try, refused and\nwhy), links, routes, services, relayed circuits and sidecars (open and\ntotal connections, last error)",
			func(st *status.Status) any { return st }, printStatus},
		{"links", "list a running node's links",
			"its links: peer, remote address, who dialed, round trip, bytes each\nway, connections open, since when; a STATE column when a link is\nsuspended (--resume: its connection broke, it waits for a resume)",
			func(st *status.Status) any { return st.Links }, printLinks},
		{"routes", "list a running node's routes",
			"its route table: host, next hop, hops",
			func(st *status.Status) any { return st.Routes }, printRoutes},
		{"services", "list the services a running node knows",
			"every service instance the node knows: name, host, port, hops (0: on\nthe node)",
			func(st *status.Status) any { return st.Services }, printServices},
	}
}

// statusCommands makes the commands of statusViews.
func statusCommands() []*command {
	var cmds []*command
	for _, v := range statusViews() {
		cmd := &command{
			name:    v.name,
			summary: v.summary,
			help: fmt.Sprintf(`usage: plexus %s [--node URL] [--json]

Reads the JSON API of a running 'plexus node' (its --http address,
default %s) and prints, in aligned tables:

  %s

--json prints the same as the API gives it.
`, v.name, defaultNodeURL, strings.ReplaceAll(v.what, "\n", "\n  ")),
		}
		cmd.setup = func() (*flagSet, runFunc) {
			o := &statusOptions{cmd: cmd, view: v, node: defaultNodeURL, timeout: 5 * time.Second}
			fs := newFlagSet(v.name)
			fs.stringFlag(&o.node, "URL", "the node's --http address (http://HOST:PORT, or HOST:PORT)", "node")
			fs.boolFlag(&o.json, "print JSON instead of a table", "json")
			fs.varFlag(durationValue{&o.timeout, nil}, "D", "5s", "give up when the node does not answer within D", "timeout")
			fs.logging()
			return fs, o.run
		}
		cmds = append(cmds, cmd)
	}
	return cmds
}

// statusOptions are the flags of the status commands.
type statusOptions struct {
	cmd     *command
	view    statusView
	node    string
	json    bool
	timeout time.Duration
}

// apiURL is the URL of the status API of the node at s.
func apiURL(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--node %q: want http://HOST:PORT", s)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + status.APIPath
	u.RawQuery, u.Fragment = "", ""
	return u.String(), nil
}

// fetchStatus reads the snapshot of the node at nodeURL.
func fetchStatus(ctx context.Context, nodeURL string, timeout time.Duration) (*status.Status, error) {
	var st status.Status
	if err := getAPI(ctx, nodeURL, status.APIPath, nil, timeout, &st); err != nil {
		return nil, err
	}
	return &st, nil
}

// getAPI gets path of the API of the node at nodeURL, with query q (if
// any), within timeout (if > 0), and decodes its JSON answer into v; an
// answer other than 200 is an error with the node's message.
func getAPI(ctx context.Context, nodeURL, path string, q url.Values, timeout time.Duration, v any) error {
	u, err := apiURL(nodeURL)
	if err != nil {
		return err
	}
	u = strings.TrimSuffix(u, status.APIPath) + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("cannot read the node's API (is 'plexus node --http' running there?): %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("%s: %s (is this a plexus node of this version?)", u, resp.Status)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%s: not an answer of a plexus node: %w", u, err)
	}
	return nil
}

func (o *statusOptions) run(ctx context.Context, c *cli, fs *flagSet) error {
	if len(fs.args) > 0 {
		return usagef(o.cmd, "unexpected argument %q", fs.args[0])
	}
	if _, err := apiURL(o.node); err != nil {
		return usagef(o.cmd, "%v", err)
	}
	st, err := fetchStatus(ctx, o.node, o.timeout)
	if err != nil {
		return err
	}
	if o.json {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(o.view.part(st))
	}
	o.view.print(c.stdout, st)
	return nil
}

// table is an aligned table written with text/tabwriter.
func table(w io.Writer, header ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	return tw
}

// row writes one row of a table.
func row(tw *tabwriter.Writer, cells ...any) {
	s := make([]string, len(cells))
	for i, c := range cells {
		s[i] = fmt.Sprint(c)
	}
	fmt.Fprintln(tw, strings.Join(s, "\t"))
}

// yesNo prints a bool.
func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// orDash prints "-" for an empty string.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// bytesIEC prints a byte count: 512 B, 1.5 KiB, 3.0 MiB, ...
func bytesIEC(n uint64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n), ""
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"} {
		v /= 1024
		unit = u
		if v < 1024 {
			break
		}
	}
	return fmt.Sprintf("%.1f %s", v, unit)
}

// age prints how long ago t was, to the second; "-" for the zero time.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return now.Sub(t).Truncate(time.Second).String()
}

// rtt prints a round trip in milliseconds; "-" when not measured.
func rtt(ms float64) string {
	if ms <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fms", ms)
}

func printStatus(w io.Writer, st *status.Status) {
	nl := newNodeLabels(st)
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	n := st.Node
	row(tw, "node", nl.label(n.ID, n.NodeName))
	if n.NodeName != "" {
		row(tw, "id", n.ID)
	}
	row(tw, "mesh", n.Name)
	row(tw, "relay", yesNo(n.Relay))
	row(tw, "tls", yesNo(n.Secure))
	row(tw, "policy", policyText(n))
	if n.RevokedSeq != 0 {
		row(tw, "revoked", fmt.Sprintf("%s (list %d)", plural(n.RevokedCount, "node"), n.RevokedSeq))
	}
	if n.CertNotAfter != nil {
		row(tw, "cert", certText(st.Time, *n.CertNotAfter))
	}
	row(tw, "uptime", n.Uptime().Truncate(time.Second))
	row(tw, "listen", orDash(strings.Join(n.Listen, " ")))
	row(tw, "links", len(st.Links))
	row(tw, "routes", len(st.Routes))
	row(tw, "services", len(st.Services))
	row(tw, "circuits", len(st.Circuits))
	tw.Flush()
	sections := []struct {
		title string
		n     int
		print func(io.Writer, *status.Status, *nodeLabels)
	}{
		{"joins", len(st.Joins), joinsTable},
		{"links", len(st.Links), linksTable},
		{"routes", len(st.Routes), routesTable},
		{"services", len(st.Services), servicesTable},
		{"relayed pairs", len(st.Relayed), relayedTable},
		{"relayed circuits", len(st.Circuits), circuitsTable},
		{"sidecars", len(st.Sidecars), sidecarsTable},
	}
	for _, s := range sections {
		if s.n == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s:\n", s.title)
		s.print(w, st, nl)
	}
	nl.footnote(w)
}

// policyText says whom the node believes about service names.
func policyText(n status.Node) string {
	if n.CertPolicy {
		return "certificate (a service only from a node whose certificate names it)"
	}
	return "none (any member may serve any name)"
}

// labelled prints the table of one view, and the footnote of its
// unverified names.
func labelled(table func(io.Writer, *status.Status, *nodeLabels)) func(io.Writer, *status.Status) {
	return func(w io.Writer, st *status.Status) {
		nl := newNodeLabels(st)
		table(w, st, nl)
		nl.footnote(w)
	}
}

var (
	printLinks    = labelled(linksTable)
	printRoutes   = labelled(routesTable)
	printServices = labelled(servicesTable)
)

func linksTable(w io.Writer, st *status.Status, nl *nodeLabels) {
	// A DIRECT column only when a link is the direct upgrade of a
	// relayed pair (plexus node --advertise): yes for those.
	direct := false
	for _, l := range st.Links {
		direct = direct || l.Direct
	}
	cols := []string{"PEER", "ADDRESS", "DIALED", "RTT", "IN", "OUT", "STREAMS", "UP"}
	if direct {
		cols = []string{"PEER", "ADDRESS", "DIALED", "DIRECT", "RTT", "IN", "OUT", "STREAMS", "UP"}
	}
	// A STATE column only when a link is suspended (plexus node --resume:
	// its connection broke, it waits for a resume): "suspended" and for
	// how long; "up" for the others.
	suspended := slices.ContainsFunc(st.Links, func(l status.Link) bool { return l.Suspended })
	if suspended {
		cols = slices.Insert(cols, len(cols)-5, "STATE")
	}
	tw := table(w, cols...)
	for _, l := range st.Links {
		cells := []any{nl.label(l.Peer, l.PeerName), orDash(l.Addr), yesNo(l.Dialer)}
		if direct {
			cells = append(cells, yesNo(l.Direct))
		}
		if suspended {
			cells = append(cells, linkState(st.Time, l))
		}
		row(tw, append(cells, rtt(l.RTTMillis), bytesIEC(l.BytesIn), bytesIEC(l.BytesOut), l.Streams, age(st.Time, l.UpSince))...)
	}
	tw.Flush()
}

func routesTable(w io.Writer, st *status.Status, nl *nodeLabels) {
	tw := table(w, "HOST", "NEXT HOP", "HOPS")
	for _, r := range st.Routes {
		row(tw, nl.label(r.Host, r.HostName), nl.label(r.NextHop, r.NextHopName), r.Hops)
	}
	tw.Flush()
}

func servicesTable(w io.Writer, st *status.Status, nl *nodeLabels) {
	tw := table(w, "NAME", "HOST", "PORT", "HOPS")
	for _, s := range st.Services {
		row(tw, s.Name, nl.label(s.Host, s.HostName), s.Port, s.Hops)
	}
	tw.Flush()
}

// relayedTable lists the far hosts the node talks to through relays (its
// own circuits), with the relays on the way.
// A RESUMED column, only when a pair's circuit is resumable
// (--resume): how many new paths it took, "-" for one that is not.
func relayedTable(w io.Writer, st *status.Status, nl *nodeLabels) {
	resumable := slices.ContainsFunc(st.Relayed, func(r status.RelayedPair) bool { return r.Resumable })
	cols := []string{"HOST", "VIA", "DIALED", "STREAMS", "BYTES", "UP"}
	if resumable {
		cols = append(cols, "RESUMED")
	}
	tw := table(w, cols...)
	for _, r := range st.Relayed {
		via := make([]string, len(r.Via))
		for i, h := range r.Via {
			via[i] = nl.label(h.ID, h.Name)
		}
		cells := []any{nl.label(r.Host, r.HostName), orDash(strings.Join(via, ", ")), yesNo(r.Dialed), r.Streams, bytesIEC(r.Bytes), age(st.Time, r.Since)}
		if resumable {
			resumed := "-"
			if r.Resumable {
				resumed = strconv.FormatUint(r.Resumes, 10)
			}
			cells = append(cells, resumed)
		}
		row(tw, cells...)
	}
	tw.Flush()
}

func circuitsTable(w io.Writer, st *status.Status, nl *nodeLabels) {
	tw := table(w, "SOURCE", "DEST", "PREV", "NEXT", "UP", "BYTES")
	for _, c := range st.Circuits {
		row(tw, nl.label(c.Source, c.SourceName), nl.label(c.Dest, c.DestName), nl.label(c.Prev, c.PrevName), nl.label(c.Next, c.NextName),
			age(st.Time, c.Since), bytesIEC(c.Bytes))
	}
	tw.Flush()
}

// certWarn is how long before its certificate expires plexus status
// warns.
const certWarn = 30 * 24 * time.Hour

// certText says when the node's certificate expires, seen at now: with a
// WARNING within certWarn, and EXPIRED once past.
func certText(now, notAfter time.Time) string {
	d := notAfter.Sub(now)
	date := notAfter.UTC().Format(time.DateOnly)
	switch {
	case d <= 0:
		return fmt.Sprintf("EXPIRED %s (%s ago): the node can no longer link", date, days(-d))
	case d < certWarn:
		return fmt.Sprintf("expires %s (in %s)  WARNING: renew it", date, days(d))
	}
	return fmt.Sprintf("expires %s (in %s)", date, days(d))
}

// days prints a duration in whole days ("28 days", "1 day"), or under a
// day to the minute.
func days(d time.Duration) string {
	switch k := int(d / (24 * time.Hour)); {
	case k > 1:
		return fmt.Sprintf("%d days", k)
	case k == 1:
		return "1 day"
	}
	return d.Truncate(time.Minute).String()
}

// joinsTable lists the joins: each address, its state, the peer while up,
// since when, and what went wrong when it is not up.
func joinsTable(w io.Writer, st *status.Status, nl *nodeLabels) {
	tw := table(w, "ADDRESS", "STATE", "PEER", "SINCE", "DETAIL")
	for _, j := range st.Joins {
		detail := j.Error
		if j.State == "redialing" && j.NextTry != nil {
			detail = nextTry(st.Time, *j.NextTry) + ": " + j.Error
		}
		row(tw, j.Addr, j.State, peerOrDash(nl, j.Peer, j.PeerName), age(st.Time, j.Since), orDash(detail))
	}
	tw.Flush()
}

// nextTry says when the next dial of a join is due, seen at now.
func nextTry(now, t time.Time) string {
	d := t.Sub(now)
	switch {
	case d <= 0:
		return "trying now"
	case d < time.Second:
		return "next try in " + d.Round(100*time.Millisecond).String()
	}
	return "next try in " + d.Round(time.Second).String()
}

// sidecarsTable lists the --expose and --forward sidecars.
func sidecarsTable(w io.Writer, st *status.Status, _ *nodeLabels) {
	tw := table(w, "KIND", "SPEC", "LISTEN", "OPEN", "TOTAL", "LAST ERROR")
	for _, s := range st.Sidecars {
		last := "-"
		if s.Error != "" {
			last = s.Error
			if s.ErrorTime != nil {
				last = age(st.Time, *s.ErrorTime) + " ago: " + s.Error
			}
		}
		row(tw, s.Kind, s.Spec, s.Listen, s.Open, s.Total, last)
	}
	tw.Flush()
}

// peerOrDash is the label of a peer, or "-" when there is none.
func peerOrDash(nl *nodeLabels, id, name string) string {
	if id == "" {
		return "-"
	}
	return nl.label(id, name)
}

// unverifiedMark follows a node name no certificate vouches for (an
// insecure node's --node-name): "web* (0a1b2c3d)".
const unverifiedMark = "*"

// unverifiedNote is the footnote under a table that marks a name so.
const unverifiedNote = unverifiedMark + " name not verified by a certificate"

// nodeLabels prints the nodes of a snapshot as "name (id8)" (nodeLabel),
// marking the names that no certificate vouches for, and remembers
// whether it did, for the footnote.
type nodeLabels struct {
	verified map[string]bool // by node id, from the graph
	secure   bool            // the node is secured: the names it knows are its certificates' CNs
	marked   bool
}

func newNodeLabels(st *status.Status) *nodeLabels {
	nl := &nodeLabels{verified: map[string]bool{}, secure: st.Node.Secure}
	for _, n := range st.Graph.Nodes {
		if n.Name != "" {
			nl.verified[n.ID] = n.NameVerified
		}
	}
	if st.Node.NodeName != "" {
		nl.verified[st.Node.ID] = st.Node.NameVerified
	}
	return nl
}

// label is nodeLabel of id and name, the name marked when it is not
// verified.
func (nl *nodeLabels) label(id, name string) string {
	if name == "" {
		return id
	}
	v, ok := nl.verified[id]
	if !ok {
		v = nl.secure
	}
	if !v {
		nl.marked = true
		name += unverifiedMark
	}
	return nodeLabel(id, name)
}

// footnote explains the mark, if a table used it.
func (nl *nodeLabels) footnote(w io.Writer) {
	if nl.marked {
		fmt.Fprintf(w, "\n%s\n", unverifiedNote)
	}
}

// linkState says whether a link is up or suspended, and then for how
// long.
func linkState(now time.Time, l status.Link) string {
	if !l.Suspended {
		return "up"
	}
	if l.SuspendedSince == nil {
		return "suspended"
	}
	return "suspended " + age(now, *l.SuspendedSince)
}
