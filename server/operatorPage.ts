/**
 * The operator page's client code (plain DOM, no build step): the page itself, and the login form
 * shown without a session (server/operatorAuth.ts).
 */
/** The page: plain DOM, fetches the JSON every second (the session cookie goes along). */
export const OPERATOR_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MMO operator</title>
<style>
body{font:13px system-ui,sans-serif;margin:16px;background:#111;color:#ddd}
h1{font-size:18px;margin:0 0 8px}h2{font-size:15px;margin:18px 0 4px}
table{border-collapse:collapse;margin:4px 0 10px}td,th{border:1px solid #333;padding:3px 6px;text-align:left}
th{background:#222}.p2p{color:#7fd67f}.cs{color:#9ab}.bad{color:#f77}.warn{color:#fc6}
small{color:#888}
</style></head><body>
<h1>Administration Server <small id="at"></small></h1>
<div id="settings"></div>
<div id="admin" data-testid="operator-admin"></div>
<div id="sites" data-testid="operator-sites"></div>
<h2>Suspects</h2><div id="suspects" data-testid="operator-suspects"></div>
<h2>Peers</h2><div id="peers"></div>
<form method="post" action="/admin/logout"><button>Log out</button></form>
<script>
const esc = (v) => String(v ?? '—').replace(/[&<>"]/g, (c) => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
const n = (v, d = 0) => (v === null || v === undefined ? '—' : Number(v).toFixed(d));
const clock = (t) => esc(new Date(t).toLocaleTimeString());
const ago = (ms) => { const sec = Math.max(0, Math.round(ms / 1000));
  return sec < 60 ? sec + ' s' : sec < 3600 ? Math.floor(sec / 60) + ' min ' + (sec % 60) + ' s' : Math.floor(sec / 3600) + ' h ' + Math.floor((sec % 3600) / 60) + ' min'; };
// The site's lifecycle at the admin (server/p2p/lifecycle.ts): state, since when, last transitions.
function lifecycle(s, now) {
  const cls = s.state === 'lost' || s.state === 'suspended' ? 'bad' : s.state === 'p2p' || s.state === 'client-server' ? '' : 'warn';
  return '<div data-testid="lifecycle" data-state="' + esc(s.state) + '">lifecycle <b class="' + cls + '">' + esc(s.state) + '</b> ' +
    (s.since === null ? '<small>since the admin started</small>' : 'since ' + clock(s.since) + ' <small>(' + ago(now - s.since) + ')</small>') +
    (s.transitions.length ? ' <small>after ' + s.transitions.map((t) => esc(t.from) + ' —' + esc(t.event) + '→ ' + esc(t.to) + ' at ' + clock(t.at)).join(', ') + '</small>' : '') + '</div>';
}
function table(head, rows) {
  return '<table><tr>' + head.map((h) => '<th>' + esc(h) + '</th>').join('') + '</tr>' +
    rows.map((r) => '<tr>' + r.map((c) => '<td>' + c + '</td>').join('') + '</tr>').join('') + '</table>';
}
async function refresh() {
  try {
    const r = await fetch('/api/admin');
    if (r.status === 403) { location.reload(); return; }
    if (!r.ok) { document.getElementById('sites').textContent = 'HTTP ' + r.status; return; }
    const v = await r.json();
    document.getElementById('at').textContent = new Date(v.now).toLocaleTimeString();
    document.getElementById('settings').textContent = 'N_server ' + v.settings.nServer + ', transfer threshold ' + v.settings.transferThreshold + ' users, T_timeslot ' + v.settings.T_timeslot + ' ms';
    const a = v.admin, ra = a && a.rates;
    document.getElementById('admin').textContent = !a ? '' : 'This server: ' + a.players + ' players, CPU ' + (ra ? n(ra.cpuPercent, 1) + ' %' : '—') +
      ', in ' + (ra ? n(ra.bytesInPerPlayerSecond) : '—') + ' B and out ' + (ra ? n(ra.bytesOutPerPlayerSecond) : '—') + ' B per player-second' +
      (ra ? ' (last ' + n(ra.windowMs / 1000) + ' s)' : '') + '; since start ' + n(a.cpuUserMs + a.cpuSystemMs) + ' ms CPU, ' + n(a.bytesIn) + ' B in, ' + n(a.bytesOut) + ' B out, ' + n(a.playerSeconds) + ' player-seconds';
    document.getElementById('sites').innerHTML = v.sites.map((s) =>
      '<h2 data-site="' + esc(s.id) + '" data-mode="' + esc(s.mode) + '" data-state="' + esc(s.state) + '">' + esc(s.name) + ' <span class="' + s.mode + '">' + s.mode.toUpperCase() + (s.closing ? ' (going back to the admin)' : '') + '</span> <small>' +
      s.users.length + ' users, ' + s.actionsAtAdmin + ' actions applied by the admin' + (s.epoch ? ', membership epoch ' + s.epoch : '') + (s.actionDelay !== null ? ', action delay at its servers ' + n(s.actionDelay) + ' ms' : '') + '</small></h2>' +
      lifecycle(s, v.now) +
      (s.blocked ? '<div class="warn" data-testid="blocked">not P2P: ' + esc(s.blocked) + '</div>' : '') +
      (s.waitingFor ? '<div class="warn" data-testid="resuming">resumed after a restart, waiting for servers ' + s.waitingFor.servers.map(esc).join(', ') + ' and users ' + s.waitingFor.users.map(esc).join(', ') + '</div>' : '') +
      (s.users.length ? '<div><small>users: ' + s.users.map(esc).join(', ') + '</small></div>' : '') +
      (s.servers.length ? table(['server', 'player', 'state', 'status', 'clock vs admin ms', 'action delay ms (max)', 'timeslot lag ms', 'timeslot', 'TRM sent', 'TRM received', 'in B/s', 'out B/s', 'links', 'rtt ms', 'flagged by', 'in minority'],
        s.servers.map((x) => ['<code>' + esc(x.id) + '</code>', esc(x.user), '<span class="' + (x.state === 'active' ? '' : 'bad') + '">' + esc(x.state) + '</span>', esc(x.status), (x.clockError === null ? '—' : n(x.clockError, 1) + (x.clockErrorPlusMinus === null ? '' : ' ± ' + n(x.clockErrorPlusMinus, 1))), (x.actionDelay === null ? '—' : n(x.actionDelay) + ' (' + n(x.actionDelayMax) + ')'), n(x.lag), n(x.timeslotSeq), n(x.trmSent), n(x.trmReceived), n(x.bytesInPerSec), n(x.bytesOutPerSec), n(x.links), n(x.rtt, 1), esc(x.flaggedBy.join(', ') || ''), n(x.minority)])) : '')
    ).join('');
    document.getElementById('suspects').innerHTML = v.suspects.length === 0 ? '<small>none</small>' : v.suspects.map((x) =>
      '<div data-suspect="' + esc(x.server) + '"><b><code>' + esc(x.server) + '</code></b> (player ' + esc(x.user) + ', site ' + esc(x.site) + ') ' +
      (x.verdict ? '<span class="bad">caught in the minority by the admin tally (' + esc(x.verdict.what) + '): replaced, not chosen again</span>' : '<span class="warn">reported, not confirmed by the admin</span>') +
      (x.reporters.length ? ' <small>reported by ' + x.reporters.map(esc).join(', ') + '</small>' : '') +
      (x.firstSeq !== null ? ' <small>copies first part at update ' + x.firstSeq + '</small>' : '') +
      table(['update', 'by', 'why', 'majority (hash: servers)', 'other side (server: hash)', 'actions in the majority copy'],
        x.entries.map((e) => {
          const ev = e.evidence;
          return [n(e.seq), esc(e.by), esc(e.kind),
            ev ? '<code>' + esc(ev.majority.hash) + '</code>: ' + ev.majority.servers.map(esc).join(', ') : '—',
            ev ? ev.minority.map((m) => esc(m[0]) + ': <code>' + esc(m[1]) + '</code>').join('<br>') : '—',
            ev ? (ev.actionCount === null ? 'copy not seen' : ev.actions.map((a) => esc(a[0]) + ' #' + a[1]).join(', ') + (ev.actionCount > ev.actions.length ? ' … (' + ev.actionCount + ' in all)' : '')) : '—'];
        })) + '</div>').join('');
    document.getElementById('peers').innerHTML = table(['player', 'server id', 'may serve', 'rtt ms', 'serving', 'why not eligible'],
      v.peers.map((p) => [esc(p.user), '<code>' + esc(p.serverId) + '</code>', p.serve ? 'yes' : 'no', n(p.rtt, 1), esc(p.serving), esc(p.why)]));
  } catch (e) { document.getElementById('sites').textContent = String(e); }
}
refresh(); setInterval(refresh, 1000);
</script></body></html>`;


/** Shown for /admin without a session: the token goes once in a JSON POST, never in the URL. */
export const LOGIN_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>MMO operator: log in</title>
<style>body{font:14px system-ui,sans-serif;margin:40px;background:#111;color:#ddd}input,button{font:inherit}</style></head><body>
<h1>Operator page</h1>
<form id="login"><label>Operator token (MMO_ADMIN_TOKEN) <input type="password" name="token" autocomplete="current-password" required></label>
<button>Log in</button></form><p id="msg"></p>
<script>
document.getElementById('login').addEventListener('submit', async (e) => {
  e.preventDefault();
  const token = new FormData(e.target).get('token');
  const r = await fetch('/admin/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  if (r.ok) location.reload();
  else document.getElementById('msg').textContent = r.status === 429 ? 'Too many tries: wait a minute.' : 'Wrong token.';
});
</script></body></html>`;
