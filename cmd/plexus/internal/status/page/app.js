// The status page of a plexus node: polls the node's JSON API and draws
// the mesh as a graph (plain SVG) with the node's details, its events,
// links, joins, sidecars, services, routes and relayed circuits beside it.
// No library, no build step; everything it loads comes from the node.
//
// The layout is stable: a node keeps its place from one update to the
// next (a new node starts beside its neighbours and only new nodes move
// while the layout settles), and the picture is scaled to fill its
// panel. Labels are placed where no edge, node or other label is.
(() => {
  'use strict';

  const API = 'api/v1/status';
  const SVG = 'http://www.w3.org/2000/svg';
  const params = new URLSearchParams(location.search);
  const every = Math.max(100, Number(params.get('every')) || 1000);
  const UNVERIFIED = 'name not verified by a certificate';

  const positions = new Map(); // node id -> {x, y} in layout units: kept between updates
  const samples = new Map(); // link key -> {t, bytesIn, bytesOut}: the previous snapshot's counters
  const rates = new Map(); // link key -> {in, out}: bytes per second
  let last = null; // the last snapshot drawn
  let selected = null; // the id of the node whose details are shown
  let idLen = 8; // how many hex digits tell the known ids apart
  let names = new Map(); // node id -> {name, verified}

  // --- formatting -------------------------------------------------------

  // prefixLength returns the shortest prefix length, at least 8, that
  // tells the ids apart (as git abbreviates hashes).
  function prefixLength(ids) {
    for (let n = 8; n < 16; n++) {
      if (new Set(ids.map((id) => id.slice(0, n))).size === ids.length) return n;
    }
    return 16;
  }

  function short(id) { return (id || '').slice(0, idLen); }

  // plural: 1 link, 2 links.
  function plural(n, one, many) { return n + ' ' + (n === 1 ? one : (many || one + 's')); }

  // bytes prints a byte count in binary units, as the CLI does: 512 B,
  // 1.5 KiB, 3.0 MiB.
  function bytes(n) {
    if (n < 1024) return Math.round(n) + ' B';
    const units = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
    let i = -1;
    do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
    return n.toFixed(1) + ' ' + units[i];
  }

  function rate(r) { return r === undefined ? '–' : bytes(r) + '/s'; }

  function duration(s) {
    s = Math.max(0, Math.floor(s));
    const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
    if (d > 0) return d + 'd ' + h + 'h';
    if (h > 0) return h + 'h ' + m + 'm';
    if (m > 0) return m + 'm ' + (s % 60) + 's';
    return s + 's';
  }

  function ago(now, t) { return t ? duration((now - Date.parse(t)) / 1000) + ' ago' : '–'; }

  function clock(t) { return new Date(t).toLocaleTimeString([], { hour12: false }); }

  function ms(v) { return v > 0 ? (v < 10 ? v.toFixed(2) : v.toFixed(1)) + ' ms' : '–'; }

  function hash(s) {
    let h = 2166136261;
    for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619); }
    return h >>> 0;
  }

  // nameOf returns what the snapshot knows of a node's name.
  function nameOf(id, given) {
    const n = names.get(id);
    if (n && n.name) return n;
    return { name: given || '', verified: false };
  }

  // nodeText is how the page names a node: "name (id8)", or the id8.
  function nodeText(id, given) {
    const n = nameOf(id, given);
    return n.name ? n.name + ' (' + short(id) + ')' : short(id);
  }

  // --- DOM helpers: text only, never HTML from the network --------------

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null) continue;
      if (k === 'class') e.className = v; else if (k in e && k !== 'list') e[k] = v; else e.setAttribute(k, v);
    }
    e.append(...children.filter((c) => c !== undefined && c !== null));
    return e;
  }

  function setText(id, text) { document.getElementById(id).textContent = text; }

  function cell(text, cls, title) { return el('td', { class: cls, title }, text); }

  // nodeRef is a node's name and short id, the full id in its title;
  // an unverified name in italics.
  function nodeRef(id, given, self) {
    const n = nameOf(id, given);
    const parts = [];
    if (n.name) {
      parts.push(el('span', { class: 'name' + (n.verified ? '' : ' unverified'), title: n.verified ? undefined : UNVERIFIED }, n.name), ' ');
      parts.push(el('span', { class: 'idref', title: id }, '(' + short(id) + ')'));
    } else {
      parts.push(el('span', { class: 'id', title: id }, short(id)));
    }
    if (id === self) parts.push(el('span', { class: 'me' }, '(this node)'));
    return parts;
  }

  function nodeCell(id, given, self) {
    const td = el('td', { class: 'node-cell', title: id }, ...nodeRef(id, given, self));
    td.dataset.id = id;
    return td;
  }

  function fill(tableId, rows, columns, what) {
    const body = document.querySelector('#' + tableId + ' tbody');
    const count = document.getElementById(tableId + '-count');
    if (count) count.textContent = '(' + rows.length + ')';
    const trs = rows.map((row) => el('tr', {}, ...columns(row)));
    if (trs.length === 0) {
      const td = cell('no ' + what);
      td.colSpan = document.querySelectorAll('#' + tableId + ' thead th').length;
      trs.push(el('tr', { class: 'empty' }, td));
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

  // --- layout: positions in layout units, kept across updates -----------

  // relax runs a small force simulation on P, moving only the nodes
  // whose index is in free.
  function relax(P, E, free, steps, seed) {
    const fx = new Float64Array(P.length), fy = new Float64Array(P.length);
    for (let s = 0; s < steps; s++) {
      fx.fill(0); fy.fill(0);
      for (let i = 0; i < P.length; i++) {
        for (let j = i + 1; j < P.length; j++) {
          let dx = P[i].x - P[j].x, dy = P[i].y - P[j].y;
          let d2 = dx * dx + dy * dy;
          if (d2 < 0.01) { dx = (seed[i] % 7) - 3 || 1; dy = (seed[j] % 7) - 3 || 1; d2 = dx * dx + dy * dy; }
          const d = Math.sqrt(d2), f = 20000 / d2;
          fx[i] += dx / d * f; fy[i] += dy / d * f;
          fx[j] -= dx / d * f; fy[j] -= dy / d * f;
        }
      }
      for (const [i, j] of E) {
        const dx = P[j].x - P[i].x, dy = P[j].y - P[i].y;
        const d = Math.max(Math.sqrt(dx * dx + dy * dy), 0.1), f = (d - 160) * 0.08;
        fx[i] += dx / d * f; fy[i] += dy / d * f;
        fx[j] -= dx / d * f; fy[j] -= dy / d * f;
      }
      const limit = 30 * (1 - s / steps) + 1;
      for (const i of free) {
        fx[i] -= P[i].x * 0.01; fy[i] -= P[i].y * 0.01;
        const m = Math.sqrt(fx[i] * fx[i] + fy[i] * fy[i]);
        const k = m > limit ? limit / m : 1;
        P[i].x += fx[i] * k; P[i].y += fy[i] * k;
      }
    }
  }

  // layout places the nodes that have no position yet: on the first
  // update all of them (in the order of their ids, so that the picture
  // is repeatable), later only the new ones, beside their neighbours.
  function layout(nodes, links, self) {
    const ids = new Set(nodes.map((n) => n.id));
    for (const id of [...positions.keys()]) if (!ids.has(id)) positions.delete(id);
    const fresh = nodes.filter((n) => !positions.has(n.id)).sort((a, b) => a.id.localeCompare(b.id));
    if (fresh.length === 0) return;
    const first = positions.size === 0;
    fresh.forEach((n, k) => {
      const angle = (first ? k / fresh.length * 2 * Math.PI : (hash(n.id) % 360) * Math.PI / 180);
      let base = { x: 0, y: 0 }, count = 0;
      if (!first) {
        for (const l of links) {
          const other = l.a === n.id ? l.b : l.b === n.id ? l.a : null;
          if (other && positions.has(other)) { base = { x: base.x + positions.get(other).x, y: base.y + positions.get(other).y }; count++; }
        }
        if (count > 0) base = { x: base.x / count, y: base.y / count };
      }
      const r = n.id === self && first ? 0 : first ? 150 : 70;
      positions.set(n.id, { x: base.x + r * Math.cos(angle), y: base.y + r * Math.sin(angle) });
    });
    const P = nodes.map((n) => positions.get(n.id));
    const index = new Map(nodes.map((n, i) => [n.id, i]));
    const E = links.filter((l) => index.has(l.a) && index.has(l.b)).map((l) => [index.get(l.a), index.get(l.b)]);
    const free = fresh.map((n) => index.get(n.id));
    const steps = nodes.length > 300 ? 30 : nodes.length > 100 ? 100 : first ? 400 : 150;
    relax(P, E, free, steps, nodes.map((n) => hash(n.id)));
    if (first && positions.has(self)) {
      const me = positions.get(self), ox = me.x, oy = me.y;
      for (const p of positions.values()) { p.x -= ox; p.y -= oy; }
    }
  }

  // fit maps layout units to the panel's pixels, so the graph fills it.
  function fit(nodes, W, H) {
    let minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
    for (const n of nodes) {
      const p = positions.get(n.id);
      minX = Math.min(minX, p.x); maxX = Math.max(maxX, p.x);
      minY = Math.min(minY, p.y); maxY = Math.max(maxY, p.y);
    }
    const mx = Math.min(130, W * 0.16), my = Math.min(70, H * 0.12);
    const w = maxX - minX, h = maxY - minY;
    let sx = w > 1 ? (W - 2 * mx) / w : 1, sy = h > 1 ? (H - 2 * my) / h : 1;
    // Fill the panel, but do not stretch one axis more than 1.6 times
    // the other.
    if (w > 1 && h > 1) { sx = Math.min(sx, sy * 1.6); sy = Math.min(sy, sx * 1.6); } else { sx = sy = Math.min(w > 1 ? sx : Infinity, h > 1 ? sy : Infinity, 1); }
    const cx = (minX + maxX) / 2, cy = (minY + maxY) / 2;
    return (p) => ({ x: W / 2 + (p.x - cx) * sx, y: H / 2 + (p.y - cy) * sy });
  }

  // --- label placement --------------------------------------------------

  function overlaps(a, b) { return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h; }

  // crosses tells whether the segment p-q passes through box r
  // (Liang–Barsky clipping).
  function crosses(p, q, r) {
    let t0 = 0, t1 = 1;
    const dx = q.x - p.x, dy = q.y - p.y;
    const checks = [[-dx, p.x - r.x], [dx, r.x + r.w - p.x], [-dy, p.y - r.y], [dy, r.y + r.h - p.y]];
    for (const [pp, qq] of checks) {
      if (pp === 0) { if (qq < 0) return false; continue; }
      const t = qq / pp;
      if (pp < 0) { if (t > t1) return false; if (t > t0) t0 = t; } else { if (t < t0) return false; if (t < t1) t1 = t; }
    }
    return true;
  }

  // Placer keeps the boxes taken so far and chooses, among candidate
  // boxes, the first that meets nothing (else the one that meets least).
  function placer(W, H, segments, discs) {
    const taken = discs.map((d) => ({ x: d.x - d.r, y: d.y - d.r, w: 2 * d.r, h: 2 * d.r }));
    return (candidates) => {
      let best = null, bestScore = Infinity;
      for (const c of candidates) {
        const pad = { x: c.x - 2, y: c.y - 1, w: c.w + 4, h: c.h + 2 };
        let score = 0;
        if (c.x < 2 || c.y < 2 || c.x + c.w > W - 2 || c.y + c.h > H - 2) score += 50;
        for (const s of segments) if (crosses(s[0], s[1], pad)) score += 10;
        for (const t of taken) if (overlaps(pad, t)) score += 10;
        if (score < bestScore) { best = c; bestScore = score; }
        if (score === 0) break;
      }
      taken.push(best);
      return best;
    };
  }

  // --- drawing the graph ------------------------------------------------

  const R = 15; // a node's radius in pixels

  function drawGraph(st) {
    const self = st.node.id;
    const nodes = st.graph.nodes.slice();
    if (!nodes.some((n) => n.id === self)) nodes.push({ id: self, name: st.node.node_name, name_verified: st.node.name_verified, relay: st.node.relay, reachable: true, hops: 0 });
    const known = new Set(nodes.map((n) => n.id));
    const links = st.graph.links.filter((l) => known.has(l.a) && known.has(l.b));
    layout(nodes, links, self);
    if (selected && !known.has(selected)) selected = null;

    const g = document.getElementById('graph');
    const W = Math.max(g.clientWidth, 200), H = Math.max(g.clientHeight, 200);
    g.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    const toScreen = fit(nodes, W, H);
    const at = new Map(nodes.map((n) => [n.id, toScreen(positions.get(n.id))]));
    const byId = new Map(nodes.map((n) => [n.id, n]));

    // Edges end at the nodes' circles.
    const edges = svg('g', { class: 'links' });
    const segments = [];
    const own = [];
    for (const l of links) {
      const a = at.get(l.a), b = at.get(l.b);
      const dx = b.x - a.x, dy = b.y - a.y, d = Math.max(Math.hypot(dx, dy), 1);
      const ra = (l.a === self ? R + 7 : R + 2) / d, rb = (l.b === self ? R + 7 : R + 2) / d;
      if (ra + rb >= 1) continue;
      const p = { x: a.x + dx * ra, y: a.y + dy * ra }, q = { x: b.x - dx * rb, y: b.y - dy * rb };
      const isOwn = l.a === self || l.b === self;
      const peer = l.a === self ? l.b : l.a;
      const r = isOwn ? peerRate(st, peer) : undefined;
      const total = r ? r.in + r.out : 0;
      const width = 2 + (total > 0 ? Math.min(5, Math.log10(1 + total) / 1.5) : 0);
      const dead = !byId.get(l.a).reachable || !byId.get(l.b).reachable;
      const line = svg('line', {
        class: 'link' + (isOwn ? ' own' : '') + (dead ? ' dead' : ''), 'data-a': l.a, 'data-b': l.b,
        x1: p.x.toFixed(1), y1: p.y.toFixed(1), x2: q.x.toFixed(1), y2: q.y.toFixed(1), 'stroke-width': width.toFixed(1),
      });
      line.append(svg('title', {}, nodeText(l.a) + ' – ' + nodeText(l.b) + (r ? '\n' + nodeText(self) + ' sends ' + rate(r.out) + ', receives ' + rate(r.in) : '')));
      edges.append(line);
      segments.push([p, q]);
      if (isOwn && r) own.push({ peer, r, from: at.get(self), to: at.get(peer) });
    }

    const dots = svg('g', { class: 'nodes' });
    for (const n of nodes) {
      const p = at.get(n.id);
      const isSelf = n.id === self;
      const gone = !n.reachable && !isSelf;
      const node = svg('g', {
        class: 'node' + (n.relay ? ' relay' : '') + (isSelf ? ' self' : '') + (gone ? ' unreachable' : '') + (n.id === selected ? ' selected' : ''),
        'data-id': n.id, 'data-relay': String(!!n.relay), 'data-self': String(isSelf), 'data-x': p.x.toFixed(1), 'data-y': p.y.toFixed(1),
        tabindex: '0', role: 'button', 'aria-label': 'details of ' + nodeText(n.id, n.name),
      });
      const cls = 'shape' + (n.relay ? ' relay' : '') + (isSelf ? ' self' : '') + (gone ? ' unreachable' : '');
      node.append(svg('circle', { class: 'halo', cx: p.x, cy: p.y, r: isSelf ? R + 10 : R + 5 }));
      if (isSelf) node.append(svg('circle', { class: 'ring', cx: p.x, cy: p.y, r: R + 6 }));
      if (n.relay) {
        const k = R + 2;
        node.append(svg('polygon', { class: cls, points: [[0, -k], [k, 0], [0, k], [-k, 0]].map(([x, y]) => (p.x + x).toFixed(1) + ',' + (p.y + y).toFixed(1)).join(' ') }));
      } else {
        node.append(svg('circle', { class: cls, cx: p.x, cy: p.y, r: R }));
      }
      node.append(svg('title', {}, nodeTitle(st, n)));
      dots.append(node);
    }

    // Labels: first drawn at the origin to measure them, then placed.
    const labels = svg('g', { class: 'labels' });
    g.replaceChildren(edges, dots, labels);
    const place = placer(W, H, segments, nodes.map((n) => ({ ...at.get(n.id), r: n.id === self ? R + 12 : R + 7 })));
    const order = nodes.slice().sort((a, b) => (a.id === self ? -1 : b.id === self ? 1 : 0) || (a.hops < 0) - (b.hops < 0) || a.hops - b.hops || a.id.localeCompare(b.id));
    for (const n of order) {
      const p = at.get(n.id);
      const text = nodeLabel(st, n);
      text.dataset.id = n.id;
      text.addEventListener('click', () => select(n.id));
      const box = measure(labels, text);
      const rr = n.id === self ? R + 13 : R + 8; // clear of the ring and of the selection's halo
      const c = [];
      for (const extra of [0, 10, 22, 36]) {
        const d = rr + extra;
        c.push({ x: p.x - box.w / 2, y: p.y + d, w: box.w, h: box.h }); // below
        c.push({ x: p.x - box.w / 2, y: p.y - d - box.h, w: box.w, h: box.h }); // above
        c.push({ x: p.x + d, y: p.y - box.h / 2, w: box.w, h: box.h }); // right
        c.push({ x: p.x - d - box.w, y: p.y - box.h / 2, w: box.w, h: box.h }); // left
        c.push({ x: p.x + d * 0.7, y: p.y + d * 0.7, w: box.w, h: box.h }); // below right
        c.push({ x: p.x - d * 0.7 - box.w, y: p.y + d * 0.7, w: box.w, h: box.h }); // below left
        c.push({ x: p.x + d * 0.7, y: p.y - d * 0.7 - box.h, w: box.w, h: box.h }); // above right
        c.push({ x: p.x - d * 0.7 - box.w, y: p.y - d * 0.7 - box.h, w: box.w, h: box.h }); // above left
      }
      put(labels, text, box, place(c));
    }
    // The rates of this node's links: each direction on its own side of
    // the edge, its arrow pointing the way the bytes go.
    for (const o of own) {
      const dx = o.to.x - o.from.x, dy = o.to.y - o.from.y, d = Math.max(Math.hypot(dx, dy), 1);
      const ux = dx / d, uy = dy / d, nx = -uy, ny = ux;
      const horizontal = Math.abs(dx) >= Math.abs(dy);
      const outArrow = horizontal ? (dx > 0 ? '→' : '←') : (dy > 0 ? '↓' : '↑');
      const inArrow = { '→': '←', '←': '→', '↓': '↑', '↑': '↓' }[outArrow];
      const peerName = nodeText(o.peer);
      const both = [
        { cls: 'rate out', text: outArrow + ' ' + rate(o.r.out), title: nodeText(self) + ' → ' + peerName + ': ' + rate(o.r.out), side: 1 },
        { cls: 'rate in', text: inArrow + ' ' + rate(o.r.in), title: peerName + ' → ' + nodeText(self) + ': ' + rate(o.r.in), side: -1 },
      ];
      for (const lab of both) {
        const text = svg('text', { class: lab.cls, 'data-peer': o.peer }, lab.text);
        text.append(svg('title', {}, lab.title));
        const box = measure(labels, text);
        const c = [];
        for (const t of [0.5, 0.4, 0.6, 0.3, 0.7, 0.22, 0.78]) {
          for (const side of [lab.side, -lab.side]) {
            for (const gap of [4, 14]) {
              const off = Math.abs(nx) * box.w / 2 + Math.abs(ny) * box.h / 2 + gap;
              const cx = o.from.x + dx * t + nx * off * side, cy = o.from.y + dy * t + ny * off * side;
              c.push({ x: cx - box.w / 2, y: cy - box.h / 2, w: box.w, h: box.h });
            }
          }
        }
        put(labels, text, box, place(c));
      }
    }
    const lost = nodes.filter((n) => !n.reachable && n.id !== self).length;
    setText('graph-count', '(' + plural(nodes.length, 'node') + ', ' + plural(links.length, 'link') + (lost ? ', ' + lost + ' unreachable' : '') + ')');
  }

  // measure adds text to layer at the origin and returns its size and
  // the offset of its box from its anchor.
  function measure(layer, text) {
    text.setAttribute('x', 0);
    text.setAttribute('y', 0);
    for (const t of text.querySelectorAll(':scope > tspan')) t.setAttribute('x', 0);
    layer.append(text);
    const b = text.getBBox();
    return { w: b.width, h: b.height, ox: b.x, oy: b.y };
  }

  // put moves a measured text to the box chosen for it, with a
  // background behind it.
  function put(layer, text, box, where) {
    const x = where.x - box.ox, y = where.y - box.oy;
    text.setAttribute('x', x.toFixed(1));
    text.setAttribute('y', y.toFixed(1));
    for (const t of text.querySelectorAll(':scope > tspan')) t.setAttribute('x', x.toFixed(1));
    const bg = svg('rect', { class: 'label-bg', x: (where.x - 2).toFixed(1), y: (where.y - 1).toFixed(1), width: (box.w + 4).toFixed(1), height: (box.h + 2).toFixed(1), rx: 3 });
    layer.insertBefore(bg, text);
  }

  // nodeLabel is a node's label: its name and short id, its services,
  // and when it was last seen if it is lost.
  function nodeLabel(st, n) {
    const isSelf = n.id === st.node.id;
    const gone = !n.reachable && !isSelf;
    const text = svg('text', { class: 'label' + (gone ? ' unreachable' : '') + (isSelf ? ' self' : '') });
    const lines = [];
    const first = svg('tspan', {});
    if (n.name) {
      first.append(svg('tspan', { class: 'nm' + (n.name_verified ? '' : ' unverified') }, n.name), svg('tspan', { class: 'idt' }, ' (' + short(n.id) + ')'));
    } else {
      first.append(svg('tspan', { class: 'nm idt' }, short(n.id)));
    }
    lines.push(first);
    const services = n.services || [];
    if (services.length > 0) {
      lines.push(svg('tspan', { class: 'svc' }, services.length > 3 ? services.slice(0, 3).join(', ') + ', …' : services.join(', ')));
    }
    if (gone) {
      lines.push(svg('tspan', { class: 'seen' }, n.last_seen ? 'last seen ' + ago(Date.parse(st.time), n.last_seen) : 'unreachable'));
    }
    lines.forEach((l, i) => {
      if (i > 0) { l.setAttribute('dy', '1.25em'); }
      text.append(l);
    });
    text.append(svg('title', {}, nodeTitle(st, n)));
    return text;
  }

  function nodeTitle(st, n) {
    const isSelf = n.id === st.node.id;
    const services = n.services || [];
    const hops = isSelf ? 'this node' : n.reachable ? plural(n.hops, 'hop') + ' away' : 'unreachable' + (n.last_seen ? ', last seen ' + ago(Date.parse(st.time), n.last_seen) : '');
    return (n.name ? n.name + (n.name_verified ? '' : ' (' + UNVERIFIED + ')') + '\n' : '') + n.id + (n.relay ? ' (relay)' : '') + '\n' + hops +
      (services.length ? '\nservices: ' + services.join(', ') : '') + '\nclick for details';
  }

  // --- the details of the selected node ---------------------------------

  function select(id) {
    selected = selected === id ? null : id;
    if (last) { drawGraph(last); drawDetails(last); }
  }

  function drawDetails(st) {
    const list = document.getElementById('details-list');
    const empty = document.getElementById('details-empty');
    const n = selected && st.graph.nodes.find((x) => x.id === selected) ||
      (selected === st.node.id ? { id: st.node.id, name: st.node.node_name, name_verified: st.node.name_verified, relay: st.node.relay, reachable: true, hops: 0 } : null);
    if (!n) {
      list.hidden = true;
      empty.hidden = false;
      setText('details-name', '');
      return;
    }
    const self = st.node.id;
    const isSelf = n.id === self;
    const rows = [];
    const add = (term, ...value) => rows.push(el('dt', {}, term), el('dd', {}, ...value));
    add('id', el('span', { class: 'id' }, n.id));
    if (n.name) {
      add('name', el('span', { class: n.name_verified ? '' : 'unverified', title: n.name_verified ? undefined : UNVERIFIED }, n.name), ' ',
        el('span', { class: n.name_verified ? 'good' : 'muted' }, n.name_verified ? '(verified by its certificate)' : '(not verified by a certificate)'));
    } else {
      add('name', el('span', { class: 'muted' }, 'none'));
    }
    add('role', (isSelf ? 'this node, ' : '') + (n.relay ? 'relay' : 'not a relay'));
    add('reach', isSelf ? 'this node' : n.reachable ? plural(n.hops, 'hop') + ' away' : el('span', { class: 'bad' }, 'unreachable'));
    if (!n.reachable && !isSelf) add('last seen', n.last_seen ? new Date(n.last_seen).toLocaleString() + ' (' + ago(Date.parse(st.time), n.last_seen) + ')' : 'not since this node started recording');
    const svcs = n.services || [];
    add('services', svcs.length ? svcs.join(', ') : el('span', { class: 'muted' }, 'none'));
    const peers = st.graph.links.filter((l) => l.a === n.id || l.b === n.id).map((l) => (l.a === n.id ? l.b : l.a)).sort();
    add('links', peers.length ? el('ul', {}, ...peers.map((p) => {
      const li = el('li', {}, ...nodeRef(p, undefined, self));
      const mine = st.links.filter((l) => (isSelf ? l.peer === p : (p === self && l.peer === n.id)));
      for (const l of mine) {
        const r = rates.get(linkKey(l));
        // The rates are this node's; for another node, the other way round.
        const flow = r ? (isSelf ? ', receives ' + rate(r.in) + ', sends ' + rate(r.out) : ', sends ' + rate(r.in) + ', receives ' + rate(r.out)) : '';
        li.append(el('span', { class: 'muted' }, ' · ' + l.addr + ', RTT ' + ms(l.rtt_ms) + flow));
      }
      return li;
    })) : el('span', { class: 'muted' }, 'none'));
    const route = st.routes.find((r) => r.host === n.id);
    if (route && !isSelf) add('route', 'via ', ...nodeRef(route.next_hop, route.next_hop_name, self));
    list.replaceChildren(...rows);
    list.hidden = false;
    empty.hidden = true;
    setText('details-name', nodeText(n.id, n.name));
  }

  // --- events -----------------------------------------------------------

  function drawEvents(st) {
    const ol = document.getElementById('events');
    const events = st.events.slice().reverse();
    setText('events-count', '(' + plural(events.length, 'event') + ')');
    if (events.length === 0) {
      ol.replaceChildren(el('li', { class: 'empty' }, 'nothing has happened since this node started'));
      return;
    }
    ol.replaceChildren(...events.map((e) => {
      const tone = /(-up|-added)$/.test(e.kind) ? 'up' : /(down|lost|error|withdrawn)$/.test(e.kind) ? 'down' : '';
      const li = el('li', { class: 'event' }, el('time', { dateTime: e.time, title: new Date(e.time).toLocaleString() }, clock(e.time)),
        el('span', { class: 'kind ' + tone }, e.kind), el('span', { class: 'text' }, e.text));
      li.dataset.kind = e.kind;
      if (e.node) li.dataset.node = e.node;
      return li;
    }));
  }

  // --- tables -----------------------------------------------------------

  function drawTables(st) {
    const self = st.node.id;
    const now = Date.parse(st.time);
    fill('links', st.links, (l) => {
      const r = rates.get(linkKey(l));
      return [nodeCell(l.peer, l.peer_name, self), cell((l.dialer ? '→ ' : '← ') + l.addr + (l.direct ? ' (direct)' : ''), '', (l.dialer ? 'this node dialed (joined) it' : 'accepted') + (l.direct ? '; the direct upgrade of a relayed pair' : '')),
        cell(ms(l.rtt_ms), 'num'), cell(bytes(l.bytes_in), 'num'), cell(bytes(l.bytes_out), 'num'),
        cell(rate(r && r.in), 'num'), cell(rate(r && r.out), 'num'), cell(String(l.streams), 'num')];
    }, 'links');
    // A suspended link (plexus node --resume: its connection broke, it
    // waits for a resume) is marked in its row, with how long it has been.
    const linkRows = document.querySelectorAll('#links tbody tr');
    st.links.forEach((l, i) => {
      if (!l.suspended || !linkRows[i]) return;
      linkRows[i].classList.add('suspended');
      const since = l.suspended_since ? ' ' + duration((now - Date.parse(l.suspended_since)) / 1000) : '';
      linkRows[i].cells[1].append(' ', el('span', { class: 'suspended-mark', title: 'its connection broke' + (l.suspended_since ? ' at ' + new Date(l.suspended_since).toLocaleString() : '') + '; waiting for a resume' }, 'suspended' + since));
    });
    fill('relayed', st.relayed || [], (r) => {
      const via = el('td', { class: 'node-cell' });
      r.via.forEach((h, i) => { if (i > 0) via.append(', '); via.append(...nodeRef(h.id, h.name, self)); });
      if (r.via.length === 0) via.append('–');
      return [nodeCell(r.host, r.host_name, self), via, cell(String(r.streams), 'num'), cell(bytes(r.bytes), 'num'),
        cell(ago(now, r.since), 'num', new Date(r.since).toLocaleString())];
    }, 'relayed pairs (every far host is a neighbour, or none is talked to)');
    fill('joins', st.joins, (j) => [cell(j.addr), cell(j.state, 'state-' + j.state),
      j.peer ? nodeCell(j.peer, j.peer_name, self) : cell('–', 'muted'),
      cell(ago(now, j.since), 'num', new Date(j.since).toLocaleString()),
      cell((j.error || '') + (j.next_try ? (j.error ? '; ' : '') + 'next try in ' + duration((Date.parse(j.next_try) - now) / 1000) : ''), 'err',
        j.error_time ? 'at ' + new Date(j.error_time).toLocaleString() : undefined)], 'joins (no --join)');
    fill('sidecars', st.sidecars, (s) => [cell(s.kind), cell(s.spec), cell(String(s.open), 'num'), cell(String(s.total), 'num'),
      cell(s.error ? s.error + (s.error_time ? ' (' + ago(now, s.error_time) + ')' : '') : '–', s.error ? 'err' : 'muted')], 'sidecars (no --expose or --forward)');
    const services = st.services.slice().sort((a, b) => a.name.localeCompare(b.name) || a.hops - b.hops || a.host.localeCompare(b.host));
    fill('services', services, (s) => [cell(s.name), nodeCell(s.host, s.host_name, self), cell(String(s.port), 'num'), cell(String(s.hops), 'num')], 'services');
    const routes = st.routes.slice().sort((a, b) => a.hops - b.hops || a.host.localeCompare(b.host));
    fill('routes', routes, (r) => [nodeCell(r.host, r.host_name, self), nodeCell(r.next_hop, r.next_hop_name, self), cell(String(r.hops), 'num')], 'routes');
    fill('circuits', st.circuits, (c) => [nodeCell(c.source, c.source_name, self), nodeCell(c.dest, c.dest_name, self),
      nodeCell(c.prev, c.prev_name, self), nodeCell(c.next, c.next_name, self),
      cell(bytes(c.bytes), 'num'), cell(ago(now, c.since), 'num', new Date(c.since).toLocaleString())], 'relayed circuits');
  }

  function drawHeader(st) {
    const n = st.node;
    const title = document.getElementById('node-title');
    title.replaceChildren(...(n.node_name ? [el('span', { class: n.name_verified ? '' : 'unverified', title: n.name_verified ? 'name verified by its certificate' : UNVERIFIED }, n.node_name)] : []));
    setText('node-id', n.id);
    setText('node-name', n.name || '–');
    setText('node-relay', n.relay ? 'yes' : 'no');
    setText('node-secure', n.secure ? 'yes' : 'no');
    setText('node-policy', n.cert_policy ? 'certificate' : 'none');
    const certItem = document.getElementById('node-cert-item');
    if (n.cert_not_after) {
      const left = (Date.parse(n.cert_not_after) - Date.parse(st.time)) / 1000;
      const dd = document.getElementById('node-cert');
      const day = new Date(n.cert_not_after).toISOString().slice(0, 10);
      dd.textContent = left <= 0 ? 'expired ' + day : 'expires ' + day + (left < 30 * 86400 ? ' (in ' + duration(left) + ')' : '');
      dd.className = left <= 0 ? 'bad' : left < 30 * 86400 ? 'warn' : '';
      dd.title = left < 30 * 86400 ? 'renew the certificate, then send the node SIGHUP' : '';
      certItem.hidden = false;
    } else {
      certItem.hidden = true;
    }
    const revItem = document.getElementById('node-revoked-item');
    revItem.hidden = !n.revoked_seq;
    if (n.revoked_seq) setText('node-revoked', plural(n.revoked_count || 0, 'node') + ' (list ' + n.revoked_seq + ')');
    setText('node-uptime', duration(n.uptime_seconds));
    setText('node-listen', n.listen.length ? n.listen.join(', ') : '–');
    document.title = 'plexus ' + (n.node_name ? n.node_name + ' (' + n.id.slice(0, 8) + ')' : n.id.slice(0, 8)) + (n.name ? ' · ' + n.name : '');
  }

  function setState(state, text) {
    const e = document.getElementById('state');
    e.dataset.state = state;
    e.textContent = text;
  }

  // learn notes the names the snapshot gives and how many digits tell
  // its ids apart.
  function learn(st) {
    names = new Map();
    const ids = new Set([st.node.id]);
    for (const n of st.graph.nodes) {
      ids.add(n.id);
      if (n.name) names.set(n.id, { name: n.name, verified: !!n.name_verified });
    }
    if (st.node.node_name) names.set(st.node.id, { name: st.node.node_name, verified: !!st.node.name_verified });
    idLen = prefixLength([...ids]);
  }

  function draw(st) {
    learn(st);
    drawHeader(st);
    drawGraph(st);
    drawDetails(st);
    drawEvents(st);
    drawTables(st);
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
      last = st;
      draw(st);
      setState('ok', 'updated ' + clock(st.time));
    } catch (e) {
      setState('error', 'cannot read the node: ' + e.message);
    } finally {
      setTimeout(poll, every);
    }
  }

  document.getElementById('graph').addEventListener('click', (ev) => {
    const node = ev.target.closest('.node');
    if (node) select(node.dataset.id);
  });
  document.getElementById('graph').addEventListener('keydown', (ev) => {
    const node = ev.target.closest('.node');
    if (node && (ev.key === 'Enter' || ev.key === ' ')) { ev.preventDefault(); select(node.dataset.id); }
  });
  let pending = false;
  window.addEventListener('resize', () => {
    if (pending || !last) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; drawGraph(last); });
  });

  poll();
})();
