// Baton's web UI: one page, one module, no build step. Every page reads the same HTTP API as
// `baton --server` does; the browser is signed in by an HttpOnly cookie, and each changing
// request carries the X-Baton-UI header the server asks of cookie-signed requests.

const main = document.getElementById('main');
const statusLine = document.getElementById('status');
let me = null;
let stream = null;

// ---- helpers

function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
  return el;
}
const svg = (tag, attrs = {}) => {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  return el;
};
const enc = encodeURIComponent;
const json = (v) => JSON.stringify(v, null, 2);
const when = (t) => (t ? new Date(t).toLocaleString() : '—');
function say(text) { statusLine.textContent = text || ''; }
/// Puts `children` (nodes, text, nested lists of them; null for nothing) in the page's main part.
function show(...children) { main.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined)); }

class ApiError extends Error {
  constructor(status, body) { super(body?.error?.message || `HTTP ${status}`); this.status = status; this.body = body; }
}

async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { 'x-baton-ui': '1' } };
  if (body !== undefined) { init.headers['content-type'] = 'application/json'; init.body = JSON.stringify(body); }
  const res = await fetch(path, init);
  const text = await res.text();
  const data = text ? JSON.parse(text) : null;
  if (res.status === 401 && path !== '/api/sign-in') { me = null; showSignIn(); throw new ApiError(401, data); }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/// Runs an action, says what became of it, and redraws the page.
async function act(what, fn) {
  try { await fn(); say(`${what}: done`); } catch (e) { say(`${what}: ${e.message}`); return; }
  route();
}

// ---- the session the sign-in opened (interactive workflows run in it)

async function session() {
  let id = sessionStorage.getItem('baton-session');
  if (id) {
    try { await api('GET', `/api/sessions/${enc(id)}`); return id; } catch (e) { if (e.status === 401) throw e; }
  }
  id = (await api('POST', '/api/sessions')).id;
  sessionStorage.setItem('baton-session', id);
  return id;
}

// ---- forms generated from declared fields

/// An input for a declared field (`{name, type, required, description, default}`): a number
/// input for numbers, a select for booleans, a text input for strings, JSON for the rest.
function fieldInput(f, id) {
  const hint = f.default !== undefined && f.default !== null ? `default: ${JSON.stringify(f.default)}` : null;
  const common = { id, name: f.name, required: f.required || null, 'aria-describedby': f.description ? `${id}-d` : null };
  switch (f.type) {
    case 'boolean': return h('select', common, h('option', { value: '' }, hint ? `— (${hint})` : '—'), h('option', { value: 'true' }, 'yes'), h('option', { value: 'false' }, 'no'));
    case 'integer': return h('input', { ...common, type: 'number', step: '1', placeholder: hint });
    case 'number': return h('input', { ...common, type: 'number', step: 'any', placeholder: hint });
    case 'string': return h('input', { ...common, type: 'text', placeholder: hint });
    default: return h('textarea', { ...common, rows: 3, placeholder: hint ? `JSON, ${hint}` : 'JSON' });
  }
}

function fieldsForm(fields, prefix) {
  return fields.map((f, i) => {
    const id = `${prefix}-${i}`;
    return h('div', { class: 'field' }, h('label', { for: id }, f.name, f.required ? ' (required)' : '', h('span', { class: 'muted' }, ` — ${f.type}`)), fieldInput(f, id),
      f.description ? h('div', { class: 'muted', id: `${id}-d` }, f.description) : null);
  });
}

/// The values of a form made by `fieldsForm`, each of its field's type; an empty field is left
/// out. A value that is not of its type is refused here, naming the field.
function readFields(form, fields) {
  const out = {};
  for (const f of fields) {
    const raw = form.elements[f.name]?.value ?? '';
    if (raw === '') continue;
    if (f.type === 'boolean') out[f.name] = raw === 'true';
    else if (f.type === 'integer' || f.type === 'number') {
      const n = Number(raw);
      if (!Number.isFinite(n) || (f.type === 'integer' && !Number.isInteger(n))) throw new Error(`${f.name}: ${f.type === 'integer' ? 'a whole number' : 'a number'}, not ${raw}`);
      out[f.name] = n;
    } else if (f.type === 'string') out[f.name] = raw;
    else {
      try { out[f.name] = JSON.parse(raw); } catch { throw new Error(`${f.name}: not JSON`); }
    }
  }
  return out;
}

function people(text) {
  const users = [], groups = [];
  for (const p of text.split(',').map((s) => s.trim()).filter(Boolean)) (p.startsWith('group:') ? groups.push(p.slice(6)) : users.push(p));
  return { users, groups };
}

// ---- sign-in

function showSignIn() {
  document.getElementById('nav').hidden = true;
  document.getElementById('sign-out').hidden = true;
  document.getElementById('who').textContent = '';
  const error = h('p', { class: 'error', role: 'alert' });
  const signIn = async (body) => {
    try {
      const signed = await api('POST', '/api/sign-in', body);
      sessionStorage.setItem('baton-session', signed.session.id);
      me = signed.user;
      location.hash = '#/inbox';
      route();
    } catch (e) { error.textContent = e.message; }
  };
  const byPassword = h('form', { onsubmit: (e) => { e.preventDefault(); signIn({ user: e.target.user.value, password: e.target.password.value }); } },
    h('fieldset', {}, h('legend', {}, 'Sign in with your user name and password'),
      h('label', { for: 'user' }, 'User name'), h('input', { id: 'user', name: 'user', autocomplete: 'username', required: true }),
      h('label', { for: 'password' }, 'Password'), h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
      h('p', {}, h('button', { type: 'submit' }, 'Sign in'))));
  const byToken = h('form', { onsubmit: (e) => { e.preventDefault(); signIn({ token: e.target.token.value }); } },
    h('fieldset', {}, h('legend', {}, 'Or sign in with an API token'),
      h('label', { for: 'token' }, 'Token'), h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true, size: 50 }),
      h('p', {}, h('button', { type: 'submit', class: 'secondary' }, 'Sign in with token'))));
  show(h('h1', {}, 'Sign in'), error, byPassword, byToken);
  document.getElementById('user').focus();
}

document.getElementById('sign-out').addEventListener('click', async () => {
  await fetch('/api/sign-out', { method: 'POST', credentials: 'same-origin', headers: { 'x-baton-ui': '1' } });
  sessionStorage.removeItem('baton-session');
  me = null;
  showSignIn();
});

// ---- live updates: the server's event stream

function live(query, onChange) {
  if (stream) stream.close();
  stream = new EventSource(`/api/events${query}`);
  let pending = null;
  const later = () => { clearTimeout(pending); pending = setTimeout(onChange, 150); };
  for (const name of ['instance', 'human_task', 'lagged']) stream.addEventListener(name, later);
}

// ---- inbox

async function inboxPage(params) {
  const q = new URLSearchParams();
  for (const k of ['status', 'process', 'min_priority', 'page']) if (params.get(k)) q.set(k, params.get(k));
  if (params.get('due_before')) q.set('due_before', new Date(params.get('due_before')).toISOString());
  const page = await api('GET', `/api/inbox?${q}`);
  const filters = h('form', { class: 'filters', 'aria-label': 'Filters', onsubmit: (e) => {
      e.preventDefault();
      const f = new URLSearchParams(new FormData(e.target));
      for (const [k, v] of [...f]) if (!v) f.delete(k);
      location.hash = `#/inbox?${f}`;
    } },
    h('label', {}, 'Process ', h('input', { name: 'process', value: params.get('process') || '' })),
    h('label', {}, 'Status ', h('select', { name: 'status' }, ['', 'ready', 'claimed', 'suspended'].map((s) => h('option', { value: s, selected: params.get('status') === s || null }, s || 'any')))),
    h('label', {}, 'Due before ', h('input', { name: 'due_before', type: 'datetime-local', value: params.get('due_before') || '' })),
    h('label', {}, 'Priority at least ', h('input', { name: 'min_priority', type: 'number', value: params.get('min_priority') || '' })),
    h('button', { type: 'submit' }, 'Filter'));
  const op = (r, operation) => () => act(`${operation} ${r.title}`, () => api('POST', `/api/instances/${enc(r.instance)}/tasks/${enc(r.task)}/human-tasks?number=${r.human_task}`, { operation }));
  const rows = page.rows.map((r) => h('tr', { 'data-task': `${r.instance}/${r.task}/${r.human_task}` },
    h('td', {}, h('a', { href: `#/task/${enc(r.instance)}/${enc(r.task)}/${r.human_task}` }, r.title)),
    h('td', {}, r.process), h('td', {}, r.status), h('td', {}, r.owner || '—'), h('td', {}, r.priority), h('td', {}, when(r.due)),
    h('td', {}, r.status === 'ready' ? h('button', { onclick: op(r, 'claim'), 'aria-label': `Claim ${r.title}` }, 'Claim') : null,
      r.status === 'claimed' && r.owner === me.name ? h('button', { class: 'secondary', onclick: op(r, 'unclaim'), 'aria-label': `Unclaim ${r.title}` }, 'Unclaim') : null)));
  const table = rows.length
    ? h('table', {}, h('thead', {}, h('tr', {}, ['Task', 'Process', 'Status', 'Owner', 'Priority', 'Due', 'Actions'].map((c) => h('th', { scope: 'col' }, c)))), h('tbody', {}, rows))
    : h('p', { class: 'muted' }, 'No tasks.');
  const more = h('p', {}, page.page > 1 ? h('a', { href: `#/inbox?${withParam(params, 'page', page.page - 1)}` }, '← Previous page') : null, ' ',
    page.more ? h('a', { href: `#/inbox?${withParam(params, 'page', page.page + 1)}` }, 'Next page →') : null);
  const workflows = page.workflows.map((w) => h('li', {}, `${w.process} (${w.step || 'ended'}), suspended ${when(w.suspended_at)} `,
    h('button', { onclick: () => resumeWorkflow(w.instance) }, `Resume ${w.process}`)));
  show(h('h1', {}, 'Inbox'), filters, table, more,
    h('h2', {}, 'Suspended interactive workflows'), workflows.length ? h('ul', { id: 'suspended' }, workflows) : h('p', { class: 'muted' }, 'None.'));
  live('', route);
}

function withParam(params, k, v) { const p = new URLSearchParams(params); p.set(k, v); return p; }

async function resumeWorkflow(instance) {
  try {
    const id = await session();
    await api('POST', `/api/sessions/${enc(id)}/workflows/${enc(instance)}/resume`);
    location.hash = `#/workflow/${enc(instance)}`;
  } catch (e) { say(`Resume: ${e.message}`); }
}

// ---- one human task

async function taskPage(instance, task, number) {
  const user = await api('GET', `/api/instances/${enc(instance)}/tasks/${enc(task)}/human-tasks?number=${number}`);
  const t = user.human_tasks.find((x) => x.id === Number(number)) || user.human_tasks[0];
  const path = `/api/instances/${enc(instance)}/tasks/${enc(task)}/human-tasks?number=${t.id}`;
  const op = (label, body) => act(label, () => api('POST', path, body));
  const mine = t.status === 'claimed' && t.claimed_by === me.name;
  const complete = h('form', { 'aria-label': 'Complete', onsubmit: (e) => {
      e.preventDefault();
      let output;
      try { output = t.form.length ? readFields(e.target, t.form) : JSON.parse(e.target.output.value || '{}'); } catch (err) { say(`Complete: ${err.message}`); return; }
      op('Complete', { operation: 'complete', output });
    } },
    h('h2', {}, 'Complete'),
    t.form.length ? fieldsForm(t.form, 'out') : [h('label', { for: 'output' }, 'Output (JSON)'), h('textarea', { id: 'output', name: 'output', rows: 4 }, '{}')],
    h('p', {}, h('button', { type: 'submit' }, 'Complete')));
  const fail = h('form', { 'aria-label': 'Fail', onsubmit: (e) => { e.preventDefault(); op('Fail', { operation: 'fail', note: e.target.note.value }); } },
    h('label', { for: 'fail-note' }, 'Why it fails'), h('input', { id: 'fail-note', name: 'note', required: true, size: 40 }), ' ', h('button', { type: 'submit', class: 'danger' }, 'Fail'));
  const forward = h('form', { 'aria-label': 'Forward', onsubmit: (e) => { e.preventDefault(); op('Forward', { operation: 'forward', to: people(e.target.to.value), note: e.target.note.value || null }); } },
    h('label', { for: 'fw-to' }, 'Forward to (users, group:NAME)'), h('input', { id: 'fw-to', name: 'to', required: true }),
    h('label', { for: 'fw-note' }, 'Note'), h('input', { id: 'fw-note', name: 'note', size: 40 }), ' ', h('button', { type: 'submit' }, 'Forward'));
  const subtask = h('form', { 'aria-label': 'Subtask', onsubmit: (e) => { e.preventDefault(); op('Subtask', { operation: 'subtask', to: people(e.target.to.value), title: e.target.title.value }); } },
    h('label', { for: 'st-to' }, 'Subtask for (users, group:NAME)'), h('input', { id: 'st-to', name: 'to', required: true }),
    h('label', { for: 'st-title' }, 'Its title'), h('input', { id: 'st-title', name: 'title', required: true }), ' ', h('button', { type: 'submit' }, 'Create subtask'));
  show(
    h('p', {}, h('a', { href: '#/inbox' }, '← Inbox'), ' · ', h('a', { href: `#/instance/${enc(instance)}` }, 'its instance')),
    h('h1', {}, t.title), h('p', {}, t.description || ''),
    h('p', {}, `Status: ${t.status}`, t.claimed_by ? `, claimed by ${t.claimed_by}` : '', ` · priority ${t.priority} · due ${when(t.due)}`),
    h('div', { class: 'actions' },
      t.status === 'ready' ? h('button', { onclick: () => op('Claim', { operation: 'claim' }) }, 'Claim') : null,
      mine ? h('button', { class: 'secondary', onclick: () => op('Unclaim', { operation: 'unclaim' }) }, 'Unclaim') : null,
      t.status === 'suspended' ? h('button', { onclick: () => op('Resume', { operation: 'resume' }) }, 'Resume') : h('button', { class: 'secondary', onclick: () => op('Suspend', { operation: 'suspend' }) }, 'Suspend')),
    mine ? [complete, fail, forward, subtask] : null,
    h('h2', {}, 'Input'), h('pre', {}, json(t.input)),
    h('h2', {}, 'Notes'), t.notes.length ? h('ul', {}, t.notes.map((n) => h('li', {}, `${n.by}, ${when(n.at)}: ${n.note ?? n.text ?? ''}`))) : h('p', { class: 'muted' }, 'None.'),
    h('h2', {}, 'Escalations'), t.escalations.length ? h('pre', {}, json(t.escalations)) : h('p', { class: 'muted' }, 'None.'));
  // Redrawn only when the task itself changed: a redraw would wipe what the user is typing.
  live(`?instance=${enc(instance)}`, async () => {
    const now = (await api('GET', path)).human_tasks.find((x) => x.id === t.id);
    if (!now || now.status !== t.status || now.claimed_by !== t.claimed_by || now.updated_at !== t.updated_at) route();
  });
}

// ---- start

async function startPage() {
  const defs = await api('GET', '/api/definitions?startable=true');
  const items = defs.map((d, i) => {
    const declared = d.data.length > 0;
    const start = async (e) => {
      e.preventDefault();
      let data;
      try { data = declared ? readFields(e.target, d.data) : JSON.parse(e.target.data.value || '{}'); } catch (err) { say(`Start ${d.id}: ${err.message}`); return; }
      try {
        if (d.interactive) {
          const step = await api('POST', `/api/sessions/${enc(await session())}/workflows`, { process: d.id, data });
          location.hash = `#/workflow/${enc(step.workflow.instance)}`;
        } else {
          const started = await api('POST', '/api/instances', { process: d.id, data });
          location.hash = `#/instance/${enc(started.id)}`;
        }
      } catch (err) { say(`Start ${d.id}: ${err.message}`); }
    };
    return h('form', { 'aria-label': `Start ${d.id}`, onsubmit: start },
      h('fieldset', {}, h('legend', {}, `${d.id}${d.name ? ` — ${d.name}` : ''} (version ${d.version})`),
        d.description ? h('p', {}, d.description) : null,
        d.interactive ? h('p', { class: 'muted' }, 'An interactive workflow: it runs in your session, here in the browser.') : null,
        declared ? fieldsForm(d.data, `start-${i}`)
          : [h('label', { for: `data-${i}` }, 'Start data (JSON)'), h('textarea', { id: `data-${i}`, name: 'data', rows: 3 }, '{}')],
        h('p', {}, h('button', { type: 'submit' }, `Start ${d.id}`))));
  });
  show(h('h1', {}, 'Start a process'), items.length ? items : h('p', { class: 'muted' }, 'You may start no process.'));
}

// ---- instances

async function instancesPage(params) {
  const q = new URLSearchParams();
  for (const k of ['status', 'process', 'cursor', 'case']) if (params.get(k)) q.set(k, params.get(k));
  q.set('limit', '25');
  const page = await api('GET', `/api/instances?${q}`);
  const statuses = ['', 'running', 'blocked', 'waiting', 'completed', 'failed', 'aborted'];
  const filters = h('form', { class: 'filters', 'aria-label': 'Filters', onsubmit: (e) => {
      e.preventDefault();
      const f = new URLSearchParams(new FormData(e.target));
      for (const [k, v] of [...f]) if (!v) f.delete(k);
      location.hash = `#/instances?${f}`;
    } },
    h('label', {}, 'Process ', h('input', { name: 'process', value: params.get('process') || '' })),
    h('label', {}, 'Status ', h('select', { name: 'status' }, statuses.map((s) => h('option', { value: s, selected: params.get('status') === s || null }, s || 'any')))),
    h('button', { type: 'submit' }, 'Filter'));
  const rows = page.instances.map((i) => h('tr', {},
    h('td', {}, h('a', { href: `#/instance/${enc(i.id)}` }, i.id)), h('td', {}, `${i.process} v${i.version}`), h('td', {}, i.status),
    h('td', {}, when(i.created_at)), h('td', {}, i.parent ? h('a', { href: `#/instance/${enc(i.parent)}` }, i.link || 'parent') : '—')));
  show(h('h1', {}, 'Instances'), filters,
    rows.length ? h('table', {}, h('thead', {}, h('tr', {}, ['Instance', 'Process', 'Status', 'Started', 'Parent'].map((c) => h('th', { scope: 'col' }, c)))), h('tbody', {}, rows)) : h('p', { class: 'muted' }, 'No instances.'),
    page.next_cursor ? h('p', {}, h('a', { href: `#/instances?${withParam(params, 'cursor', page.next_cursor)}` }, 'Next page →')) : null);
}

/// Lays the graph out in layers (a task one layer below its lowest predecessor) and draws it;
/// `statuses` colours each task, `onPick` is called with the task a click or Enter picks.
function drawGraph(graph, statuses, onPick, selected) {
  const layer = {};
  const preds = {};
  for (const e of graph.edges) (preds[e.to] ||= []).push(e.from);
  for (const n of graph.nodes) layer[n.id] = Math.max(0, ...(preds[n.id] || []).map((p) => (layer[p] ?? 0) + 1));
  const rows = [];
  for (const n of graph.nodes) (rows[layer[n.id]] ||= []).push(n);
  const W = 150, H = 46, GX = 30, GY = 40;
  const width = Math.max(...rows.map((r) => r.length)) * (W + GX) + GX;
  const pos = {};
  rows.forEach((r, y) => r.forEach((n, x) => { pos[n.id] = { x: GX + x * (W + GX) + (width - r.length * (W + GX) - GX) / 2, y: GY / 2 + y * (H + GY) }; }));
  const root = svg('svg', { class: 'graph', width, height: rows.length * (H + GY), role: 'group', 'aria-label': 'Process graph' });
  for (const e of graph.edges) {
    const a = pos[e.from], b = pos[e.to];
    if (!a || !b) continue;
    const x1 = a.x + W / 2, y1 = a.y + H, x2 = b.x + W / 2, y2 = b.y;
    root.append(svg('path', { d: `M${x1},${y1} C${x1},${y1 + GY / 2} ${x2},${y2 - GY / 2} ${x2},${y2}`, 'stroke-dasharray': e.kind === 'after' ? '' : '4 3' }));
  }
  for (const n of graph.nodes) {
    const p = pos[n.id];
    const status = statuses[n.id] || 'inactive';
    const g = svg('g', { class: `node${selected === n.id ? ' selected' : ''}`, tabindex: '0', role: 'button', 'data-task': n.id, 'data-status': status, 'aria-label': `${n.id}: ${status}`, transform: `translate(${p.x},${p.y})` });
    g.append(svg('rect', { width: W, height: H, rx: 6, class: `s-${status}` }));
    const t1 = svg('text', { x: 8, y: 18 }); t1.textContent = n.id.length > 20 ? `${n.id.slice(0, 19)}…` : n.id;
    const t2 = svg('text', { x: 8, y: 36 }); t2.textContent = `${n.kind} · ${status.replaceAll('_', ' ')}`;
    g.append(t1, t2);
    g.addEventListener('click', () => onPick(n.id));
    g.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); onPick(n.id); } });
    root.append(g);
  }
  return root;
}

const taskStatus = (t) => t.status ?? t.state?.status;

async function instancePage(id, params) {
  const inst = await api('GET', `/api/instances/${enc(id)}`);
  const [graph, history, children, startable, incidents] = await Promise.all([
    api('GET', `/api/definitions/${enc(inst.process.split('/')[0])}/graph?version=${inst.version}`).catch(() => null),
    api('GET', `/api/instances/${enc(id)}/history`).catch(() => []),
    api('GET', `/api/instances/${enc(id)}/children`).catch(() => []),
    api('GET', '/api/definitions?startable=true').catch(() => []),
    api('GET', `/api/instances/${enc(id)}/incidents`).catch(() => []),
  ]);
  const events = history.events || history;
  const statuses = Object.fromEntries(Object.entries(inst.tasks).map(([k, t]) => [k, taskStatus(t)]));
  const picked = params.get('task');
  const pick = (task) => { location.hash = `#/instance/${enc(id)}?task=${enc(task)}`; };
  const details = h('section', { id: 'task-details', 'aria-live': 'polite' });
  if (picked && inst.tasks[picked]) {
    const t = inst.tasks[picked];
    const base = `/api/instances/${enc(id)}/tasks/${enc(picked)}`;
    details.append(h('h2', {}, `Task ${picked}`),
      h('p', {}, `Status: ${taskStatus(t)}`), h('p', {}, `Reason: ${t.reason?.message || '—'}`),
      h('p', {}, `Attempts: ${t.attempts ?? 0} · started ${when(t.started_at)} · ended ${when(t.ended_at)}`),
      t.child ? h('p', {}, h('a', { href: `#/instance/${enc(t.child)}` }, 'its sub-process')) : null,
      t.reason && Object.keys(t.reason.details || {}).length ? h('pre', {}, json(t.reason.details)) : null,
      h('h3', {}, 'Its history'), h('ol', { class: 'timeline' }, events.filter((ev) => ev.task === picked).slice(-20).map((ev) => {
        const { seq, at, task, event, ...values } = ev;
        return h('li', {}, `${when(at)} `, h('strong', {}, event), Object.keys(values).length ? h('pre', {}, json(values)) : null);
      })),
      h('div', { class: 'actions' },
        h('button', { onclick: () => act(`Retry ${picked}`, () => api('POST', `${base}/retry`)) }, 'Retry'),
        h('button', { class: 'secondary', onclick: () => act(`Skip ${picked}`, () => api('POST', `${base}/skip`)) }, 'Skip'),
        h('button', { class: 'secondary', onclick: () => act('Set breakpoint', () => api('POST', `${base}/breakpoint`)) }, 'Set breakpoint'),
        h('button', { class: 'secondary', onclick: () => act('Clear breakpoint', () => api('DELETE', `${base}/breakpoint`)) }, 'Clear breakpoint')),
      h('form', { 'aria-label': 'Prompt input', onsubmit: (e) => { e.preventDefault(); act('Input', () => api('POST', `${base}/input`, { values: JSON.parse(e.target.data.value || '{}') })); } },
        h('label', { for: 'prompt' }, 'Prompt input (JSON)'), h('input', { id: 'prompt', name: 'data', value: '{}' }), ' ', h('button', { type: 'submit' }, 'Give input')));
  } else details.append(h('p', { class: 'muted' }, 'Pick a task in the graph to see its details.'));
  const spawn = h('form', { 'aria-label': 'Spawn a sub-process', class: 'filters', onsubmit: (e) => {
      e.preventDefault();
      act('Spawn', async () => { const child = await api('POST', `/api/instances/${enc(id)}/spawn`, { process: e.target.process.value }); say(`spawned ${child.id}`); });
    } },
    h('label', {}, 'Spawn a sub-process ', h('select', { name: 'process' }, startable.map((d) => h('option', { value: d.id }, d.id)))), h('button', { type: 'submit' }, 'Spawn'));
  const publish = h('form', { 'aria-label': 'Publish an event', class: 'filters', onsubmit: (e) => {
      e.preventDefault();
      act('Publish', () => api('POST', '/api/events', { name: e.target.name.value, key: e.target.key.value || null, data: JSON.parse(e.target.data.value || '{}') }));
    } },
    h('label', {}, 'Event ', h('input', { name: 'name', required: true })), h('label', {}, 'Key ', h('input', { name: 'key' })),
    h('label', {}, 'Data ', h('input', { name: 'data', value: '{}' })), h('button', { type: 'submit' }, 'Publish'));
  const abortAndStart = h('form', { 'aria-label': 'Abort and start', class: 'filters', onsubmit: (e) => {
      e.preventDefault();
      const process = e.target.process.value;
      act(`Abort and start ${process}`, async () => {
        const peer = await api('POST', `/api/instances/${enc(id)}/abort-and-start`, { process });
        location.hash = `#/instance/${enc(peer.id)}`;
      });
    } },
    h('label', {}, 'Abort this instance and start instead ', h('select', { name: 'process' }, startable.map((d) => h('option', { value: d.id }, d.id)))),
    h('button', { type: 'submit', class: 'danger' }, 'Abort and start'));
  const openIncidents = incidents.filter((x) => !x.resolved_at);
  const incidentList = openIncidents.length ? [h('h2', {}, 'Open incidents'), h('ul', { id: 'incidents' }, openIncidents.map((x) => h('li', { 'data-incident': x.id },
    `#${x.id} ${x.kind.replaceAll('_', ' ')}${x.task ? ` on ${x.task}` : ''}: ${x.reason} (${x.attempts} attempts, raised ${when(x.raised_at)}) `,
    h('button', { onclick: () => act(`Retry incident ${x.id}`, () => api('POST', `/api/incidents/${x.id}/retry`)) }, 'Retry'), ' ',
    h('button', { class: 'secondary', onclick: () => act(`Resolve incident ${x.id}`, () => api('POST', `/api/incidents/${x.id}/resolve`)) }, 'Resolve'))))] : null;
  const open = !['completed', 'failed', 'aborted'].includes(inst.status);
  show(
    h('p', {}, h('a', { href: '#/instances' }, '← Instances')),
    h('h1', {}, `${inst.process} v${inst.version}`), h('p', {}, `Instance ${inst.id} · `, h('strong', { id: 'instance-status' }, inst.status), ` · started ${when(inst.created_at)}`),
    h('p', {}, 'Hierarchy: ', inst.parent ? h('a', { href: `#/instance/${enc(inst.parent.instance)}` }, 'parent') : 'no parent',
      inst.root && inst.root !== inst.parent?.instance ? [' · ', h('a', { href: `#/instance/${enc(inst.root)}` }, 'root')] : null,
      inst.case ? [' · ', h('a', { href: `#/instances?case=${enc(inst.case)}` }, 'its case')] : null,
      children.length ? [' · children: ', children.map((c, i) => [i ? ', ' : '', h('a', { href: `#/instance/${enc(c.id)}` }, c.process)])] : null),
    h('div', { class: 'actions' }, open ? h('button', { class: 'danger', onclick: () => act('Abort', () => api('POST', `/api/instances/${enc(id)}/abort`)) }, 'Abort instance') : null),
    incidentList,
    h('div', { class: 'columns' }, h('div', {}, graph ? drawGraph(graph, statuses, pick, picked) : h('p', {}, 'No graph.')), details),
    open ? [spawn, abortAndStart, publish] : null,
    h('h2', {}, 'Data'), h('pre', { id: 'data' }, json(inst.data)),
    h('h2', {}, 'History'), h('ol', { class: 'timeline' }, events.slice(-200).map((ev) => h('li', {}, `${when(ev.at)} `, ev.task ? h('strong', {}, ev.task) : '', ` ${ev.event || ev.kind || ev.type || ''}`))));
  live(`?instance=${enc(id)}`, () => refreshGraph(id, graph, pick));
}

/// Recolours the graph from the instance's state now, without redrawing the page.
async function refreshGraph(id, graph, pick) {
  const inst = await api('GET', `/api/instances/${enc(id)}`);
  for (const [task, t] of Object.entries(inst.tasks)) {
    const g = main.querySelector(`g.node[data-task="${CSS.escape(task)}"]`);
    if (!g) continue;
    const status = taskStatus(t);
    g.setAttribute('data-status', status);
    g.setAttribute('aria-label', `${task}: ${status}`);
    g.querySelector('rect').setAttribute('class', `s-${status}`);
    g.querySelectorAll('text')[1].textContent = `${g.querySelectorAll('text')[1].textContent.split(' · ')[0]} · ${status.replaceAll('_', ' ')}`;
  }
  const s = document.getElementById('instance-status');
  if (s) s.textContent = inst.status;
  const d = document.getElementById('data');
  if (d) d.textContent = json(inst.data);
}

// ---- definitions

async function definitionsPage() {
  const defs = await api('GET', '/api/definitions');
  const problems = h('div', { id: 'problems', role: 'alert' });
  const deploy = h('form', { 'aria-label': 'Deploy', onsubmit: async (e) => {
      e.preventDefault();
      const source = e.target.source.value;
      const name = e.target.file.files[0]?.name || 'definition.yaml';
      try {
        const deployed = await api('POST', '/api/definitions', { files: [{ name, source }] });
        say(`deployed ${deployed.map((d) => `${d.id} v${d.version}`).join(', ')}`);
        route();
      } catch (err) { problems.replaceChildren(h('p', { class: 'error' }, err.message), sourceList(source, err.body?.error?.details)); }
    } },
    h('label', { for: 'file' }, 'A YAML file'), h('input', { id: 'file', name: 'file', type: 'file', accept: '.yaml,.yml,.json', onchange: async (e) => {
      const f = e.target.files[0]; if (f) document.getElementById('source').value = await f.text();
    } }),
    h('label', { for: 'source' }, 'Its source'), h('textarea', { id: 'source', name: 'source', rows: 12, required: true }),
    h('p', {}, h('button', { type: 'submit' }, 'Deploy')));
  const rows = defs.map((d) => h('tr', {}, h('td', {}, h('a', { href: `#/definition/${enc(d.id)}` }, d.id)), h('td', {}, d.version), h('td', {}, d.name || ''), h('td', {}, when(d.deployed_at))));
  show(h('h1', {}, 'Definitions'),
    rows.length ? h('table', {}, h('thead', {}, h('tr', {}, ['Process', 'Latest version', 'Name', 'Deployed'].map((c) => h('th', { scope: 'col' }, c)))), h('tbody', {}, rows)) : h('p', { class: 'muted' }, 'None deployed.'),
    h('h2', {}, 'Deploy'), deploy, problems);
}

/// The source with numbered lines, each line with a problem marked and its problems beside it.
function sourceList(source, problems) {
  const byLine = {};
  for (const p of Array.isArray(problems) ? problems : []) (byLine[p.line] ||= []).push(p);
  return h('ol', { class: 'source', 'aria-label': 'Source' }, source.split('\n').map((line, i) => {
    const here = byLine[i + 1];
    return h('li', { class: here ? 'problem' : null, 'data-line': i + 1 }, line || ' ', here ? here.map((p) => h('span', { class: 'why' }, `  ← column ${p.column}: ${p.message}`)) : null);
  }));
}

async function definitionPage(id, params) {
  const version = params.get('version');
  const v = version ? `?version=${enc(version)}` : '';
  const [def, versions, source, graph] = await Promise.all([
    api('GET', `/api/definitions/${enc(id)}${v}`), api('GET', `/api/definitions/${enc(id)}/versions`),
    api('GET', `/api/definitions/${enc(id)}/source${v}`), api('GET', `/api/definitions/${enc(id)}/graph${v}`)]);
  show(h('p', {}, h('a', { href: '#/definitions' }, '← Definitions')),
    h('h1', {}, `${def.id} v${def.version}`), def.description ? h('p', {}, def.description) : null,
    h('p', {}, 'Versions: ', versions.map((x, i) => [i ? ' · ' : '', h('a', { href: `#/definition/${enc(id)}?version=${x.version}` }, `v${x.version}`)])),
    h('h2', {}, 'Graph'), drawGraph(graph, {}, () => {}, null),
    h('h2', {}, 'Source'), sourceList(source.source ?? source.text ?? '', []));
}

// ---- interactive workflows in the session

async function workflowPage(instance) {
  const id = await session();
  showWorkflow(id, (await api('POST', `/api/sessions/${enc(id)}/workflows/${enc(instance)}/resume`)).workflow);
}

/// Draws a workflow's step: its view's form, or where it stands; a submission draws the next.
function showWorkflow(id, step) {
  const path = `/api/sessions/${enc(id)}/workflows/${enc(step.instance)}`;
  const suspend = h('button', { type: 'button', class: 'secondary', onclick: async () => {
    try { await api('POST', `${path}/suspend`); say('Suspended: it waits in your inbox'); location.hash = '#/inbox'; } catch (e) { say(`Suspend: ${e.message}`); }
  } }, 'Suspend');
  const view = step.view;
  const submit = async (e) => {
    e.preventDefault();
    try {
      const next = await api('POST', `${path}/submit`, { task: view.task, data: readFields(e.target, view.fields) });
      say('Submitted');
      showWorkflow(id, next.workflow);
    } catch (err) { say(`Submit: ${err.message}`); }
  };
  const ended = ['completed', 'failed', 'aborted'].includes(step.status);
  show(h('h1', {}, step.process),
    h('p', {}, `Workflow ${step.instance} · `, h('strong', { id: 'workflow-status' }, step.status), step.waiting_for ? ` · waits for ${step.waiting_for}` : ''),
    view ? h('form', { 'aria-label': view.title, onsubmit: submit },
      h('h2', {}, view.title), view.description ? h('p', {}, view.description) : null, fieldsForm(view.fields, 'view'),
      h('p', {}, h('button', { type: 'submit' }, 'Submit'))) : h('p', {}, ended ? 'It has ended.' : `At ${step.step || 'no step'}.`),
    ended ? h('p', {}, h('a', { href: `#/instance/${enc(step.instance)}` }, 'Its instance')) : h('div', { class: 'actions' }, suspend));
  main.querySelector('input, select, textarea')?.focus();
}

// ---- routing

const pages = [
  [/^#\/inbox$/, (m, p) => inboxPage(p)],
  [/^#\/task\/([^/]+)\/([^/]+)\/(\d+)$/, (m) => taskPage(decodeURIComponent(m[1]), decodeURIComponent(m[2]), m[3])],
  [/^#\/start$/, () => startPage()],
  [/^#\/instances$/, (m, p) => instancesPage(p)],
  [/^#\/instance\/([^/]+)$/, (m, p) => instancePage(decodeURIComponent(m[1]), p)],
  [/^#\/definitions$/, () => definitionsPage()],
  [/^#\/definition\/([^/]+)$/, (m, p) => definitionPage(decodeURIComponent(m[1]), p)],
  [/^#\/workflow\/([^/]+)$/, (m) => workflowPage(decodeURIComponent(m[1]))],
];

// Pages are drawn one at a time, and one asked for while another loads is drawn after it;
// one superseded before its turn is not drawn at all: a slow page never covers a newer one.
let routing = Promise.resolve();
let wanted = 0;
function route() {
  const mine = ++wanted;
  routing = routing.then(() => (mine === wanted ? routeNow() : undefined));
  return routing;
}

async function routeNow() {
  if (!me) {
    try { me = await api('GET', '/api/me'); } catch { return; }
  }
  document.getElementById('nav').hidden = false;
  document.getElementById('sign-out').hidden = false;
  document.getElementById('who').textContent = `Signed in as ${me.name}`;
  const [path, query] = (location.hash || '#/inbox').split('?');
  const params = new URLSearchParams(query || '');
  for (const a of document.querySelectorAll('#nav a')) a.toggleAttribute('aria-current', path.startsWith(a.getAttribute('href').replace(/s$/, '')));
  for (const a of document.querySelectorAll('#nav a')) if (a.hasAttribute('aria-current')) a.setAttribute('aria-current', 'page');
  if (stream) { stream.close(); stream = null; }
  const page = pages.find(([re]) => re.test(path));
  if (!page) { location.hash = '#/inbox'; return; }
  try { await page[1](path.match(page[0]), params); } catch (e) { if (e.status !== 401) show(h('h1', {}, 'Something went wrong'), h('p', { class: 'error' }, e.message)); }
}

window.addEventListener('hashchange', async () => {
  say('');
  await route();
  // A keyboard or screen-reader user goes on from the new page's top, not from the link left behind.
  const heading = main.querySelector('h1');
  if (heading && !main.contains(document.activeElement)) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
});
route();
