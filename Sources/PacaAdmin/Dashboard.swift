/// `GET /dashboard`: one self-contained page (no external assets; the admin listener's CSP allows
/// only inline script and style and same-origin fetches). It takes the token from a `#token=`
/// fragment or the form, keeps it in `sessionStorage`, sends it as a bearer header, polls `/stats`
/// every 2 s and draws inline SVG: hit ratio over time (overall and per tier), requests/s, origin
/// latency, bytes per tier against their budgets, the top routes and the active alerts. Rates use
/// the server's `time_ms`, so they are real rates whatever the browser's timers do.
enum Dashboard {
    static let html = #"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>paca dashboard</title>
        <meta name="viewport" content="width=device-width,initial-scale=1">
        <style>
        body{font:13px system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
        header{display:flex;align-items:center;gap:1.5em;padding:.7em 1.2em;background:#1d2330;color:#fff}
        header h1{font-size:17px;margin:0}header .kpi b{font-size:17px;margin-left:.3em}
        header form{margin-left:auto}header input{width:14em}
        main{display:grid;grid-template-columns:repeat(3,1fr);gap:12px;padding:12px}
        section{background:#fff;border-radius:6px;padding:10px 12px;box-shadow:0 1px 2px #0002;min-width:0}
        section h2{font-size:13px;margin:0 0 6px;color:#4a5468;font-weight:600}
        svg{width:100%;height:170px;display:block}.legend span{margin-right:1em;white-space:nowrap}
        .legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:4px;vertical-align:-1px}
        table{width:100%;border-collapse:collapse}td,th{padding:3px 4px;text-align:right;white-space:nowrap}
        td:first-child,th:first-child{text-align:left}th{color:#4a5468;font-weight:600;border-bottom:1px solid #e3e6eb}
        .bar{background:#e8ebf0;height:8px;border-radius:4px;min-width:60px}.bar div{background:#2f7de1;height:8px;border-radius:4px}
        .alert{background:#fdecea;border-left:4px solid #d93025;padding:5px 8px;margin:4px 0}.ok{color:#188038}
        #status{font-size:12px;opacity:.8}
        </style></head><body>
        <header><h1>paca</h1>
        <span class="kpi">requests<b id="k-req">–</b></span><span class="kpi">hit ratio<b id="k-hit">–</b></span>
        <span class="kpi">req/s<b id="k-rps">–</b></span><span class="kpi">origin p50<b id="k-origin">–</b></span>
        <span id="status"></span>
        <form id="tf"><input id="token" type="password" placeholder="admin token" autocomplete="off"> <button>use</button></form>
        </header>
        <main>
        <section><h2>Hit ratio over time</h2><svg id="c-hit"></svg><div class="legend" id="l-hit"></div></section>
        <section><h2>Requests per second</h2><svg id="c-rps"></svg><div class="legend" id="l-rps"></div></section>
        <section><h2>Origin latency (ms)</h2><svg id="c-lat"></svg><div class="legend" id="l-lat"></div></section>
        <section><h2>Bytes per tier</h2><div id="tiers"></div></section>
        <section><h2>Top routes</h2><div id="routes"></div></section>
        <section><h2>Active alerts</h2><div id="alerts"></div><h2 style="margin-top:10px">Origin</h2><div id="origin"></div></section>
        </main>
        <script>
        'use strict';
        const $ = id => document.getElementById(id);
        const colors = {all:'#1d2330', l1:'#2f7de1', l2:'#f29900', l3:'#9334e6', rps:'#2f7de1', hits:'#188038',
          p50:'#2f7de1', p90:'#f29900', p99:'#d93025'};
        const fragment = new URLSearchParams(location.hash.slice(1));
        if (fragment.get('token')) {
          sessionStorage.setItem('paca-token', fragment.get('token'));
          history.replaceState(null, '', location.pathname);
        }
        $('token').value = sessionStorage.getItem('paca-token') || '';
        $('tf').addEventListener('submit', e => { e.preventDefault(); sessionStorage.setItem('paca-token', $('token').value); poll(); });
        const history_ = [];
        let previous = null;
        const esc = s => String(s).replace(/[&<>"']/g, c => '&#' + c.charCodeAt(0) + ';');
        const pct = r => (r * 100).toFixed(1) + '%';
        function bytes(n) {
          const u = ['B','KB','MB','GB','TB']; let i = 0;
          while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
          return (i ? n.toFixed(1) : n) + ' ' + u[i];
        }
        function ratio(hits, misses) { return hits + misses > 0 ? hits / (hits + misses) : null; }
        function line(svg, series, fmt, fixedMax) {
          const w = svg.clientWidth || 400, h = svg.clientHeight || 170, left = 44, bottom = 18, top = 6;
          const points = series.flatMap(s => s.values.filter(v => v != null));
          const max = fixedMax || Math.max(1e-9, ...points) * 1.1;
          const n = Math.max(2, ...series.map(s => s.values.length));
          const x = i => left + (w - left - 6) * i / (n - 1), y = v => top + (h - top - bottom) * (1 - v / max);
          let out = '';
          for (let k = 0; k <= 4; k++) {
            const v = max * k / 4;
            out += `<line x1="${left}" x2="${w - 6}" y1="${y(v)}" y2="${y(v)}" stroke="#e3e6eb"/>`
              + `<text x="${left - 4}" y="${y(v) + 4}" text-anchor="end" font-size="10" fill="#6b7385">${fmt(v)}</text>`;
          }
          out += `<text x="${left}" y="${h - 4}" font-size="10" fill="#6b7385">${n} samples, every 2 s</text>`;
          for (const s of series) {
            let d = '', pen = false;
            s.values.forEach((v, i) => {
              if (v == null) { pen = false; return; }
              d += (pen ? 'L' : 'M') + x(i).toFixed(1) + ' ' + y(v).toFixed(1); pen = true;
            });
            out += `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`;
            const last = s.values.length - 1;
            if (last >= 0 && s.values[last] != null) out += `<circle cx="${x(last)}" cy="${y(s.values[last])}" r="3" fill="${s.color}"/>`;
          }
          svg.innerHTML = out;
        }
        function legend(el, series) {
          el.innerHTML = series.map(s => `<span><i style="background:${s.color}"></i>${esc(s.name)}</span>`).join('');
        }
        function record(stats) {
          const point = {time: stats.time_ms, requests: stats.requests, hitRatio: {}, rps: null,
            origin: stats.origin.latency_ms};
          const tiers = Object.keys(stats.tiers).sort();
          if (previous && stats.time_ms > previous.time_ms) {
            const dt = (stats.time_ms - previous.time_ms) / 1000;
            point.rps = (stats.requests - previous.requests) / dt;
            point.hitRatio.all = ratio(stats.hits - previous.hits, stats.misses - previous.misses);
            for (const t of tiers) {
              const p = previous.tiers[t] || {hits: 0, misses: 0};
              point.hitRatio[t] = ratio(stats.tiers[t].hits - p.hits, stats.tiers[t].misses - p.misses);
            }
          } else {
            point.hitRatio.all = ratio(stats.hits, stats.misses);
            for (const t of tiers) point.hitRatio[t] = ratio(stats.tiers[t].hits, stats.tiers[t].misses);
          }
          previous = stats;
          history_.push(point);
          if (history_.length > 150) history_.shift();
          return tiers;
        }
        function draw(stats) {
          const tiers = record(stats);
          const last = history_[history_.length - 1];
          $('k-req').textContent = stats.requests;
          $('k-hit').textContent = pct(stats.hit_ratio);
          $('k-rps').textContent = last.rps == null ? '–' : last.rps.toFixed(1);
          $('k-origin').textContent = stats.origin.latency_ms.p50.toFixed(1) + ' ms';
          const hit = ['all', ...tiers].map(t => ({name: t === 'all' ? 'overall' : t, color: colors[t] || '#888',
            values: history_.map(p => p.hitRatio[t] ?? null)}));
          line($('c-hit'), hit, v => Math.round(v * 100) + '%', 1); legend($('l-hit'), hit);
          const rps = [{name: 'requests/s', color: colors.rps, values: history_.map(p => p.rps)}];
          line($('c-rps'), rps, v => v >= 100 ? v.toFixed(0) : v.toFixed(1)); legend($('l-rps'), rps);
          const lat = ['p50', 'p90', 'p99'].map(q => ({name: q, color: colors[q], values: history_.map(p => p.origin[q])}));
          line($('c-lat'), lat, v => v.toFixed(v >= 10 ? 0 : 1)); legend($('l-lat'), lat);
          $('tiers').innerHTML = '<table><tr><th>tier</th><th>entries</th><th>bytes</th><th>budget</th><th style="width:40%"></th></tr>'
            + tiers.map(t => {
              const s = stats.tiers[t], share = s.budget_bytes ? Math.min(1, s.bytes / s.budget_bytes) : 0;
              return `<tr><td>${esc(t)}${s.breaker ? ' (' + esc(s.breaker) + ')' : ''}</td><td>${s.entries}</td><td>${bytes(s.bytes)}</td>`
                + `<td>${s.budget_bytes ? bytes(s.budget_bytes) : '–'}</td><td><div class="bar" title="${pct(share)}">`
                + `<div style="width:${Math.max(share * 100, s.bytes ? 1 : 0)}%;background:${colors[t] || '#888'}"></div></div></td></tr>`;
            }).join('') + '</table>';
          const routes = stats.routes.slice().sort((a, b) => b.requests - a.requests).slice(0, 8);
          const top = Math.max(1, ...routes.map(r => r.requests));
          $('routes').innerHTML = '<table><tr><th>route</th><th>requests</th><th>hit ratio</th><th>p50 ms</th><th style="width:35%"></th></tr>'
            + routes.map(r => `<tr><td>${esc(r.name)}</td><td>${r.requests}</td><td>${pct(r.hit_ratio)}</td>`
              + `<td>${r.latency_ms.p50.toFixed(2)}</td><td><div class="bar"><div style="width:${r.requests / top * 100}%"></div></div></td></tr>`).join('')
            + '</table>';
          $('alerts').innerHTML = stats.alerts.length
            ? stats.alerts.map(a => `<div class="alert"><b>${esc(a.name)}</b><br>${esc(a.detail)}</div>`).join('')
            : '<div class="ok">none</div>';
          const kinds = Object.entries(stats.origin.errors_by_kind).filter(([, n]) => n > 0).map(([k, n]) => `${esc(k)} ${n}`).join(', ');
          $('origin').innerHTML = `<table><tr><td>fetches</td><td>${stats.origin.fetches}</td></tr>`
            + `<tr><td>errors</td><td>${stats.origin.errors}${kinds ? ' (' + kinds + ')' : ''}</td></tr>`
            + `<tr><td>coalesced</td><td>${stats.coalesced}</td></tr><tr><td>bans</td><td>${stats.bans}</td></tr>`
            + `<tr><td>latency p50 / p90 / p99</td><td>${['p50', 'p90', 'p99'].map(q => stats.origin.latency_ms[q].toFixed(1)).join(' / ')} ms</td></tr></table>`;
        }
        async function poll() {
          const token = sessionStorage.getItem('paca-token');
          try {
            const response = await fetch('/stats', {headers: token ? {'Authorization': 'Bearer ' + token} : {}, cache: 'no-store'});
            if (!response.ok) { $('status').textContent = response.status === 401 ? 'enter the admin token' : 'HTTP ' + response.status; return; }
            draw(await response.json());
            $('status').textContent = 'updated ' + new Date().toLocaleTimeString();
          } catch (error) { $('status').textContent = String(error); }
        }
        poll(); setInterval(poll, 2000);
        </script></body></html>
        """#
}
