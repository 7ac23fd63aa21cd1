// The status page of a plexus node: polls the node's JSON API and draws
// the mesh as a graph (plain SVG, laid out by a small force simulation)
// with the links, services, routes and relayed circuits as tables.
// No library, no build step; everything it loads comes from the node.
(() => {
  'use strict';

  const API = 'api/v1/status';
  const SVG = 'http://www.w3.org/2000/svg';
  const params = new URLSearchParams(location.search);
  const every = Math.max(100, Number(params.get('every')) || 1000);

  const positions = new Map(); // node id -> {x, y}: kept between updates, so the picture stays still
  const samples = new Map(); // link key -> {t, bytesIn, bytesOut}: the previous snapshot's counters
  const rates = new Map(); // link key -> {in, out}: bytes per second

  // --- formatting -------------------------------------------------------

  // prefixLength returns the shortest prefix length, at least 8, that
  // tells the ids apart (as git abbreviates hashes).
  function prefixLength(ids) {
    for (let n = 8; n < 16; n++) {
      if (new Set(ids.map((id) => id.slice(0, n))).size === ids.length) return n;
    }
    return 16;
  }

  function bytes(n) {
    const units = ['B', 'kB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return (i === 0 ? n.toFixed(0) : n.toFixed(n < 10 ? 2 : n < 100 ? 1 : 0)) + ' ' + units[i];
  }

  function rate(r) { return r === undefined ? '–' : bytes(r) + '/s'; }

  function duration(s) {
    s = Math.floor(s);
    const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
    if (d > 0) return d + 'd ' + h + 'h';
    if (h > 0) return h + 'h ' + m + 'm';
    if (m > 0) return m + 'm ' + (s % 60) + 's';
    return s + 's';
  }

  function ms(v) { return v > 0 ? (v < 10 ? v.toFixed(2) : v.toFixed(1)) + ' ms' : '–'; }

  function hash(s) {
    let h = 2166136261;
    for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619); }
    return h >>> 0;
  }

  // --- DOM helpers: text only, never HTML from the network --------------

  function setText(id, text) { document.getElementById(id).textContent = text; }

  function cell(text, cls, title) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    if (title) td.title = title;
    return td;
  }

  function idCell(id, self) {
    const td = cell(id, 'id');
    if (id === self) {
      const me = document.createElement('span');
      me.className = 'me';
      me.textContent = '(this node)';
      td.append(me);
    }
    return td;
  }

  function fill(tableId, rows, columns, what) {
    const body = document.querySelector('#' + tableId + ' tbody');
    const count = document.getElementById(tableId + '-count');
    if (count) count.textContent = '(' + rows.length + ')';
    const trs = rows.map((row) => {
      const tr = document.createElement('tr');
      tr.append(...columns(row));
      return tr;
    });
    if (trs.length === 0) {
      const tr = document.createElement('tr');
      tr.className = 'empty';
      const td = cell('no ' + what);
      td.colSpan = document.querySelectorAll('#' + tableId + ' thead th').length;
      tr.append(td);
      trs.push(tr);
    }
    body.replaceChildren(...trs);
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // --- throughput -------------------------------------------------------

  function linkKey(l) { return l.peer + '|' + l.addr; }

  function updateRates(st) {
    const t = Date.parse(st.time) / 1000;
    const seen = new Set();
    for (const l of st.links) {
      const k = linkKey(l);
      seen.add(k);
      const p = samples.get(k);
      if (p && t > p.t && l.bytes_in >= p.bytesIn && l.bytes_out >= p.bytesOut) {
        rates.set(k, { in: (l.bytes_in - p.bytesIn) / (t - p.t), out: (l.bytes_out - p.bytesOut) / (t - p.t) });
      } else if (!p || l.bytes_in < p.bytesIn || l.bytes_out < p.bytesOut) {
        rates.delete(k); // a new link, or the same peer and address on a new connection
      }
      samples.set(k, { t, bytesIn: l.bytes_in, bytesOut: l.bytes_out });
    }
    for (const k of [...samples.keys()]) {
      if (!seen.has(k)) { samples.delete(k); rates.delete(k); }
    }
  }

  // peerRate sums the rates of this node's links to a neighbour.
  function peerRate(st, peer) {
    let sum;
    for (const l of st.links) {
      const r = rates.get(linkKey(l));
      if (l.peer === peer && r) sum = { in: (sum ? sum.in : 0) + r.in, out: (sum ? sum.out : 0) + r.out };
    }
    return sum;
  }

  // --- graph layout: a few hundred steps of a force simulation ----------

  function layout(nodes, links, self) {
    const ids = new Set(nodes.map((n) => n.id));
    for (const id of [...positions.keys()]) if (!ids.has(id)) positions.delete(id);
    for (const n of nodes) {
      if (positions.has(n.id)) continue;
      // Start a new node beside a neighbour already placed, in a
      // direction taken from its id, so that the picture is repeatable.
      let base = { x: 0, y: 0 };
      for (const l of links) {
        const other = l.a === n.id ? l.b : l.b === n.id ? l.a : null;
        if (other && positions.has(other)) { base = positions.get(other); break; }
      }
      const angle = (hash(n.id) % 360) * Math.PI / 180;
      const r = n.id === self ? 0 : 90;
      positions.set(n.id, { x: base.x + r * Math.cos(angle), y: base.y + r * Math.sin(angle) });
    }
    const P = nodes.map((n) => positions.get(n.id));
    const index = new Map(nodes.map((n, i) => [n.id, i]));
    const E = links.filter((l) => index.has(l.a) && index.has(l.b)).map((l) => [index.get(l.a), index.get(l.b)]);
    const steps = nodes.length > 300 ? 30 : nodes.length > 100 ? 100 : 300;
    const fx = new Float64Array(P.length), fy = new Float64Array(P.length);
    for (let s = 0; s < steps; s++) {
      fx.fill(0); fy.fill(0);
      for (let i = 0; i < P.length; i++) {
        for (let j = i + 1; j < P.length; j++) {
          let dx = P[i].x - P[j].x, dy = P[i].y - P[j].y;
          let d2 = dx * dx + dy * dy;
          if (d2 < 0.01) { dx = (hash(nodes[i].id) % 7) - 3 || 1; dy = (hash(nodes[j].id) % 7) - 3 || 1; d2 = dx * dx + dy * dy; }
          const d = Math.sqrt(d2), f = 16000 / d2;
          fx[i] += dx / d * f; fy[i] += dy / d * f;
          fx[j] -= dx / d * f; fy[j] -= dy / d * f;
        }
      }
      for (const [i, j] of E) {
        const dx = P[j].x - P[i].x, dy = P[j].y - P[i].y;
        const d = Math.max(Math.sqrt(dx * dx + dy * dy), 0.1), f = (d - 170) * 0.08;
        fx[i] += dx / d * f; fy[i] += dy / d * f;
        fx[j] -= dx / d * f; fy[j] -= dy / d * f;
      }
      const limit = 30 * (1 - s / steps) + 1;
      for (let i = 0; i < P.length; i++) {
        fx[i] -= P[i].x * 0.01; fy[i] -= P[i].y * 0.01;
        const m = Math.sqrt(fx[i] * fx[i] + fy[i] * fy[i]);
        const k = m > limit ? limit / m : 1;
        P[i].x += fx[i] * k; P[i].y += fy[i] * k;
      }
    }
    // This node in the middle.
    const me = positions.get(self);
    if (me) {
      const ox = me.x, oy = me.y;
      for (const p of P) { p.x -= ox; p.y -= oy; }
    }
  }

  // --- drawing ----------------------------------------------------------

  function drawGraph(st) {
    const self = st.node.id;
    const nodes = st.graph.nodes.slice();
    if (!nodes.some((n) => n.id === self)) nodes.push({ id: self, relay: st.node.relay, reachable: true, hops: 0 });
    const links = st.graph.links;
    layout(nodes, links, self);
    const idLen = prefixLength(nodes.map((n) => n.id));

    const g = document.getElementById('graph');
    const edges = svg('g', { class: 'links' });
    const labels = svg('g', { class: 'rates' });
    for (const l of links) {
      const a = positions.get(l.a), b = positions.get(l.b);
      if (!a || !b) continue;
      const own = l.a === self || l.b === self;
      const peer = l.a === self ? l.b : l.a;
      const r = own ? peerRate(st, peer) : undefined;
      const total = r ? r.in + r.out : 0;
      const width = 2 + (total > 0 ? Math.min(6, Math.log10(1 + total) / 1.5) : 0);
      const line = svg('line', {
        class: own ? 'link own' : 'link', 'data-a': l.a, 'data-b': l.b,
        x1: a.x, y1: a.y, x2: b.x, y2: b.y, 'stroke-width': width.toFixed(1),
      });
      line.append(svg('title', {}, l.a + ' – ' + l.b + (r ? '\nin ' + rate(r.in) + ', out ' + rate(r.out) : '')));
      edges.append(line);
      if (r) {
        // Beside the middle of the line, on the side away from the centre.
        const dx = b.x - a.x, dy = b.y - a.y, d = Math.max(Math.hypot(dx, dy), 1);
        let nx = -dy / d, ny = dx / d;
        const mx = (a.x + b.x) / 2, my = (a.y + b.y) / 2;
        if (nx * mx + ny * my < 0) { nx = -nx; ny = -ny; }
        const text = svg('text', {
          class: 'rate', x: (mx + nx * 16).toFixed(1), y: (my + ny * 16 + 4).toFixed(1),
          'text-anchor': Math.abs(nx) < 0.3 ? 'middle' : nx > 0 ? 'start' : 'end',
        }, '↓' + rate(r.in) + '  ↑' + rate(r.out));
        labels.append(text);
      }
    }
    const dots = svg('g', { class: 'nodes' });
    for (const n of nodes) {
      const p = positions.get(n.id);
      const isSelf = n.id === self;
      const cls = ['node'];
      if (n.relay) cls.push('relay');
      if (isSelf) cls.push('self');
      if (!n.reachable && !isSelf) cls.push('unreachable');
      const node = svg('g', {
        class: cls.join(' '), 'data-id': n.id, 'data-relay': String(!!n.relay), 'data-self': String(isSelf),
        transform: 'translate(' + p.x.toFixed(1) + ' ' + p.y.toFixed(1) + ')',
      });
      const shapeCls = 'shape' + (n.relay ? ' relay' : '') + (isSelf ? ' self' : '') + (!n.reachable && !isSelf ? ' unreachable' : '');
      if (isSelf) node.append(svg('circle', { class: 'ring', r: 23 }));
      if (n.relay) {
        node.append(svg('rect', { class: shapeCls, x: -13, y: -13, width: 26, height: 26, rx: 3, transform: 'rotate(45)' }));
      } else {
        node.append(svg('circle', { class: shapeCls, r: 16 }));
      }
      node.append(svg('text', { class: 'id', y: 38 }, n.id.slice(0, idLen)));
      const services = n.services || [];
      if (services.length > 0) {
        const list = services.length > 3 ? services.slice(0, 3).join(', ') + ', …' : services.join(', ');
        node.append(svg('text', { class: 'svc', y: 52 }, list));
      }
      const hops = isSelf ? 'this node' : n.reachable ? n.hops + (n.hops === 1 ? ' hop' : ' hops') : 'unreachable';
      node.append(svg('title', {}, n.id + (n.relay ? ' (relay)' : '') + '\n' + hops + (services.length ? '\nservices: ' + services.join(', ') : '')));
      dots.append(node);
    }
    g.replaceChildren(edges, labels, dots);

    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (const n of nodes) {
      const p = positions.get(n.id);
      minX = Math.min(minX, p.x); maxX = Math.max(maxX, p.x);
      minY = Math.min(minY, p.y); maxY = Math.max(maxY, p.y);
    }
    // Never magnify: a small mesh is drawn at one unit per pixel, a large
    // one shrunk to fit.
    const pad = 80;
    const w = Math.max(maxX - minX + 2 * pad, g.clientWidth || 600), h = Math.max(maxY - minY + 2 * pad, g.clientHeight || 400);
    const cx = (minX + maxX) / 2, cy = (minY + maxY) / 2;
    g.setAttribute('viewBox', [cx - w / 2, cy - h / 2 + 10, w, h].map((v) => v.toFixed(1)).join(' '));
    setText('graph-count', '(' + nodes.length + ' nodes, ' + links.length + ' links)');
  }

  function drawTables(st) {
    const self = st.node.id;
    fill('links', st.links, (l) => {
      const r = rates.get(linkKey(l));
      return [idCell(l.peer, self), cell((l.dialer ? '→ ' : '← ') + l.addr, '', l.dialer ? 'this node dialed (joined) it' : 'accepted'),
        cell(ms(l.rtt_ms), 'num'), cell(bytes(l.bytes_in), 'num'), cell(bytes(l.bytes_out), 'num'),
        cell(rate(r && r.in), 'num'), cell(rate(r && r.out), 'num'), cell(String(l.streams), 'num')];
    }, 'links');
    const services = st.services.slice().sort((a, b) => a.name.localeCompare(b.name) || a.hops - b.hops || a.host.localeCompare(b.host));
    fill('services', services, (s) => [cell(s.name), idCell(s.host, self), cell(String(s.port), 'num'), cell(String(s.hops), 'num')], 'services');
    const routes = st.routes.slice().sort((a, b) => a.hops - b.hops || a.host.localeCompare(b.host));
    fill('routes', routes, (r) => [idCell(r.host, self), idCell(r.next_hop, self), cell(String(r.hops), 'num')], 'routes');
    fill('circuits', st.circuits, (c) => [idCell(c.source, self), idCell(c.dest, self), idCell(c.prev, self), idCell(c.next, self),
      cell(bytes(c.bytes), 'num'), cell(new Date(c.since).toLocaleTimeString())], 'relayed circuits');
  }

  function drawHeader(st) {
    const n = st.node;
    setText('node-id', n.id);
    setText('node-name', n.name);
    setText('node-relay', n.relay ? 'yes' : 'no');
    setText('node-secure', n.secure ? 'yes' : 'no');
    setText('node-policy', n.cert_policy ? 'enforced' : 'off (any member may serve any name)');
    setText('node-uptime', duration(n.uptime_seconds));
    setText('node-listen', n.listen.length ? n.listen.join(', ') : '–');
    document.title = 'plexus ' + n.id.slice(0, 8) + (n.name ? ' · ' + n.name : '');
  }

  function setState(state, text) {
    const e = document.getElementById('state');
    e.dataset.state = state;
    e.textContent = text;
  }

  async function poll() {
    try {
      const resp = await fetch(API, { cache: 'no-store' });
      if (!resp.ok) {
        let msg = resp.status + ' ' + resp.statusText;
        try { msg = (await resp.json()).error || msg; } catch (e) { /* not JSON */ }
        throw new Error(msg);
      }
      const st = await resp.json();
      updateRates(st);
      drawHeader(st);
      drawGraph(st);
      drawTables(st);
      setState('ok', 'updated ' + new Date(st.time).toLocaleTimeString());
    } catch (e) {
      setState('error', 'cannot read the node: ' + e.message);
    } finally {
      setTimeout(poll, every);
    }
  }

  poll();
})();
