// The page: routes by the URL hash (`#/` the form, `#/plans/{id}` a plan, so a reload
// reopens it), asks for an API key when the service wants one, and ties the form, the
// live progress and the plan's rendering together.

import { api, apiKey, setApiKey, download } from './api.js';
import { h, byId, clear } from './dom.js';
import { t, has, lang, setLang, translateStatic, dateTime, when } from './i18n.js';
import { setDestinations, translateForm, readRequest, markField, destinationName } from './form.js';
import { follow } from './sse.js';
import { createProgress, failure } from './progress.js';
import { renderResult } from './render.js';

const OPEN_STATUSES = ['queued', 'running', 'awaiting_approval'];

const view = {
  planId: null,
  plan: null,
  progress: null,
  stop: null,
  refreshTimer: null,
  keyAsked: false,
};

// ---------- API key ----------

/** Shows the key panel with `message`; `refused` styles it as an error. */
function askForKey(message, refused) {
  view.keyAsked = true;
  byId('key-button').hidden = false;
  byId('key-panel').hidden = false;
  const m = byId('key-message');
  m.textContent = message || '';
  m.classList.toggle('error', Boolean(refused));
  byId('key-input').focus();
}

/** A 401 anywhere: the key is missing or refused. */
function unauthorized(error) {
  const had = Boolean(apiKey());
  if (had) setApiKey('');
  dropRecent();
  askForKey(had ? t('keyRefused', { message: error.message }) : t('keyNeeded'), had);
}

async function useKey(event) {
  event.preventDefault();
  const key = byId('key-input').value.trim();
  if (!key) return;
  setApiKey(key);
  byId('key-input').value = '';
  // The key may have been forgotten or replaced while it was being tried.
  if ((await loadAccess()) && apiKey() === key) {
    byId('key-panel').hidden = true;
    byId('key-message').textContent = '';
    route();
  }
}

function forgetKey() {
  setApiKey('');
  askForKey(t('keyNeeded'), false);
  dropRecent();
}

/** Loads what needs a key (destinations, recent plans); false when it was refused. */
async function loadAccess() {
  try {
    const [destinations] = await Promise.all([api.destinations(), loadRecent()]);
    setDestinations(destinations.destinations);
    // A key in use can be changed or forgotten.
    if (apiKey()) byId('key-button').hidden = false;
    return true;
  } catch (e) {
    if (e.status === 401) {
      unauthorized(e);
      return false;
    }
    recentFailed(e);
    return false;
  }
}

// ---------- recent plans ----------

// Lists can be asked for while one is on its way; only the newest answer is shown, so a
// slow answer from before a plan was submitted never hides it.
let recentAsked = 0;

async function loadRecent() {
  const list = byId('recent-list');
  const message = byId('recent-message');
  const asked = ++recentAsked;
  const answer = await api.plans(20).catch((e) => {
    if (asked === recentAsked) throw e;
  });
  if (asked !== recentAsked) return;
  const { plans } = answer;
  message.textContent = plans.length ? '' : t('recentEmpty');
  list.replaceChildren(
    ...plans.map((p) =>
      h(
        'li',
        {},
        h(
          'a',
          { href: `#/plans/${p.id}`, 'data-plan': p.id, 'aria-current': p.id === view.planId ? 'page' : null },
          h('span', { class: 'recent-title', text: planTitle(p) }),
          h('span', { class: `badge status-${p.status}`, text: t('status_' + p.status) }),
          h('time', { datetime: p.created_at, text: dateTime(p.created_at) }),
        ),
      ),
    ),
  );
}

function refreshRecent() {
  loadRecent().catch((e) => (e.status === 401 ? unauthorized(e) : recentFailed(e)));
}

/** The list could not be read: the planner answered with an error, or did not answer. */
function recentFailed(e) {
  byId('recent-message').textContent = e.status ? t('refused', { message: e.message }) : t('networkError', { message: e.message });
}

/** The key the list was read with is gone: the list, and any list on its way, are not shown. */
function dropRecent() {
  recentAsked++;
  clear(byId('recent-list'));
  byId('recent-message').textContent = '';
}

// ---------- the form ----------

async function submitTrip(event) {
  event.preventDefault();
  const error = byId('form-error');
  error.textContent = '';
  markField(null);
  const request = readRequest();
  if (!request) {
    error.textContent = t('emptyRequest');
    byId('query').focus();
    return;
  }
  const button = byId('submit');
  button.disabled = true;
  button.textContent = t('submitting');
  try {
    const plan = await api.submit(request);
    location.hash = `#/plans/${plan.id}`;
  } catch (e) {
    if (e.status === 401) unauthorized(e);
    else if (e.status) {
      error.textContent = e.field ? t('refusedField', { field: e.field, message: e.message }) : t('refused', { message: e.message });
      error.dataset.code = e.code;
      markField(e.field);
    } else error.textContent = t('networkError', { message: e.message });
  } finally {
    button.disabled = false;
    button.textContent = t('submit');
  }
}

// ---------- a plan ----------

function planTitle(p) {
  const r = p.result;
  if (r) return `${r.destination} · ${t('daysN', { n: (r.days || []).length })}`;
  const q = p.request || {};
  if (q.destination) {
    const name = destinationName(q.destination);
    return q.days ? `${name} · ${t('daysN', { n: q.days })}` : name;
  }
  const text = q.query || '';
  return text.length > 40 ? text.slice(0, 40) + '…' : text || p.id.slice(0, 8);
}

function stopFollowing() {
  if (view.stop) view.stop();
  view.stop = null;
  clearTimeout(view.refreshTimer);
}

function openPlan(id) {
  stopFollowing();
  view.planId = id;
  view.plan = null;
  view.progress = createProgress();
  const section = byId('plan');
  section.replaceChildren(
    h('div', { id: 'plan-head' }, h('h1', { id: 'plan-title', tabindex: '-1', text: t('loading') })),
    view.progress.element,
    h('div', { id: 'plan-body' }),
  );
  showPlanSection();
  byId('plan-title').focus();
  markCurrent();
  loadPlan(id, true);
}

async function loadPlan(id, startFollowing) {
  let plan;
  try {
    plan = await api.plan(id);
  } catch (e) {
    if (id !== view.planId) return;
    if (e.status === 401) return unauthorized(e);
    const head = byId('plan-head');
    head.replaceChildren(
      h('h1', { id: 'plan-title', tabindex: '-1', text: e.status === 404 ? t('notFound') : t('networkError', { message: e.message }) }),
      h('p', { id: 'plan-error', class: 'message error', role: 'alert', 'data-code': e.code, text: e.message }),
    );
    view.progress.element.hidden = true;
    return;
  }
  if (id !== view.planId) return;
  view.plan = plan;
  renderPlan();
  if (startFollowing) followPlan(id);
}

function followPlan(id) {
  stopFollowing();
  view.stop = follow(`/v1/plans/${encodeURIComponent(id)}/events`, {
    onEvent: ({ data }) => {
      if (id !== view.planId) return;
      view.progress.add(data);
      // A change of status shows in the header, the actions and the result: read the plan.
      if (data.status && view.plan && data.status !== view.plan.status) scheduleRefresh(id);
    },
    onEnd: () => {
      view.progress.settled();
      scheduleRefresh(id);
    },
    onError: (e) => (e.status === 401 ? unauthorized(e) : null),
    onReconnect: () => view.progress && view.progress.reconnecting(),
  });
}

function scheduleRefresh(id) {
  clearTimeout(view.refreshTimer);
  view.refreshTimer = setTimeout(() => {
    loadPlan(id, false);
    refreshRecent();
  }, 150);
}

function renderPlan() {
  const p = view.plan;
  const head = byId('plan-head');
  const hadFocus = document.activeElement && head.contains(document.activeElement) ? document.activeElement.id : null;
  // A saved file's link outlives the re-rendering (its object URL is still in use).
  const saved = byId('downloads');
  head.replaceChildren(
    ...[
    h(
      'div',
      { class: 'plan-title-row' },
      h('h1', { id: 'plan-title', tabindex: '-1', text: planTitle(p) }),
      h('span', { id: 'plan-status', class: `badge status-${p.status}`, 'data-status': p.status, text: t('status_' + p.status) }),
    ),
    requestEcho(p),
    notice(p),
    actions(p),
    ].filter(Boolean),
  );
  const fresh = byId('downloads');
  if (saved && fresh && saved !== fresh) fresh.replaceWith(saved);
  if (hadFocus && byId(hadFocus)) byId(hadFocus).focus();
  view.progress.element.hidden = false;
  if (p.status === 'succeeded') view.progress.foldOnce();
  const body = byId('plan-body');
  body.replaceChildren(p.status === 'succeeded' && p.result ? renderResult(p.result) : '');
}

function requestEcho(p) {
  const r = p.request || {};
  const parts = [];
  if (r.query) parts.push(r.query);
  const fields = ['destination', 'start_date', 'days', 'travelers', 'pace']
    .filter((k) => r[k] !== undefined)
    .map((k) => `${k}: ${r[k]}`);
  if (r.budget) fields.push(`budget: ${r.budget.amount} ${r.budget.currency || ''}`.trim());
  if (r.interests && r.interests.length) fields.push(`interests: ${r.interests.join(', ')}`);
  if (r.require_approval) fields.push(t('requireApproval'));
  if (fields.length) parts.push(fields.join(' · '));
  return h(
    'p',
    { class: 'request' },
    h('span', { class: 'label', text: `${t('yourRequest')}: ` }),
    h('span', { id: 'request-text', text: parts.join(' — ') }),
    h('span', { class: 'meta', text: ` · ${t('created', { at: dateTime(p.created_at) })}` }),
  );
}

function notice(p) {
  let text = '';
  let tone = 'info';
  if (p.status === 'awaiting_approval') {
    text = t('waitsBecause', { reason: (p.approval && p.approval.reason) || '' });
    tone = 'ask';
  } else if (p.status === 'failed' && p.error) {
    text = failure(p.error);
    tone = 'bad';
  } else if (p.status === 'queued' && p.wait_reason) {
    const w = p.wait_reason;
    // `upstream_wait:{provider}` names the upstream after the colon.
    const [code, provider] = String(w.reason).split(':');
    const key = has('waitReason_' + code) ? 'waitReason_' + code : 'waitReason_other';
    text = t(key, { ahead: w.ahead, running: w.running, cap: w.cap, until: when(w.until), provider, reason: w.reason });
  } else if (p.warnings && p.warnings.length && p.status !== 'succeeded') {
    text = p.warnings.join(' ');
    tone = 'warn';
  }
  return text ? h('p', { id: 'plan-notice', class: `notice ${tone}`, role: 'status', text }) : null;
}

function actions(p) {
  const id = p.id;
  const act = (what, cls) =>
    h('button', {
      type: 'button',
      id: `action-${what}`,
      class: cls || '',
      text: t(what === 'retry' ? 'retry' : what),
      onclick: (e) => runAction(e.currentTarget, id, what),
    });
  const buttons = [];
  if (p.status === 'awaiting_approval') buttons.push(act('approve', 'primary'), act('reject', 'danger'));
  if (OPEN_STATUSES.includes(p.status) && !p.cancel_requested) buttons.push(act('cancel', 'ghost'));
  if (p.status === 'failed') buttons.push(act('retry', 'primary'));
  if (p.status === 'succeeded') {
    buttons.push(
      h('button', { type: 'button', id: 'download-md', onclick: (e) => save(e.currentTarget, `/v1/plans/${id}/itinerary.md`, `plan-${id}.md`) }, t('downloadMd')),
      h('button', { type: 'button', id: 'download-json', class: 'ghost', onclick: (e) => save(e.currentTarget, `/v1/plans/${id}`, `plan-${id}.json`) }, t('downloadJson')),
    );
  }
  if (!buttons.length) return null;
  return h('div', { class: 'actions' }, buttons, h('span', { id: 'downloads', class: 'downloads' }), h('p', { id: 'action-error', class: 'message error', role: 'alert' }));
}

async function runAction(button, id, what) {
  button.disabled = true;
  try {
    await api.action(id, what);
    await loadPlan(id, false);
    // The stream of a finished plan has closed: a retry starts a new run to follow.
    if (what === 'retry') followPlan(id);
    refreshRecent();
  } catch (e) {
    button.disabled = false;
    if (e.status === 401) return unauthorized(e);
    const out = byId('action-error');
    if (out) out.textContent = t('refused', { message: e.message });
  }
}

async function save(button, path, filename) {
  button.disabled = true;
  try {
    await download(path, filename, byId('downloads'));
  } catch (e) {
    if (e.status === 401) return unauthorized(e);
    const out = byId('action-error');
    if (out) out.textContent = t('refused', { message: e.message });
  } finally {
    button.disabled = false;
  }
}

// ---------- routing ----------

function showPlanSection() {
  byId('home').hidden = true;
  byId('plan').hidden = false;
}

function showHome() {
  const leftPlan = view.planId !== null;
  stopFollowing();
  view.planId = null;
  view.plan = null;
  byId('plan').hidden = true;
  clear(byId('plan'));
  byId('home').hidden = false;
  markCurrent();
  // Leaving a plan cancels its pending refresh (`stopFollowing`), and plans may have been
  // submitted or finished elsewhere meanwhile: the list is read again.
  // Without a key where one is asked for, the list would only be refused again.
  if (leftPlan && !(view.keyAsked && !apiKey())) refreshRecent();
}

function markCurrent() {
  for (const a of document.querySelectorAll('#recent-list a')) {
    if (a.dataset.plan === view.planId) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
}

function route() {
  const match = /^#\/plans\/([^/?#]+)$/.exec(location.hash);
  if (match) {
    const id = decodeURIComponent(match[1]);
    if (id !== view.planId) openPlan(id);
  } else showHome();
}

function switchLanguage() {
  setLang(lang() === 'zh' ? 'en' : 'zh');
  translateStatic();
  translateForm();
  refreshRecent();
  if (view.progress) view.progress.translate();
  if (view.plan) renderPlan();
}

// ---------- start ----------

async function start() {
  setLang(lang());
  translateStatic();
  translateForm();
  byId('lang-button').addEventListener('click', switchLanguage);
  byId('key-button').addEventListener('click', () => askForKey('', false));
  byId('key-form').addEventListener('submit', useKey);
  byId('key-forget').addEventListener('click', forgetKey);
  byId('trip-form').addEventListener('submit', submitTrip);
  byId('recent-refresh').addEventListener('click', refreshRecent);
  window.addEventListener('hashchange', route);
  document.body.dataset.ready = 'false';
  const ok = await loadAccess();
  if (ok || !view.keyAsked) route();
  document.body.dataset.ready = 'true';
}

start();
