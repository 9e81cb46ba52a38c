// The live view of a plan being made: a progress bar and, in plain words, each event of
// its timeline as the SSE stream brings it — steps starting and finishing, retries, waits
// for an upstream, timeouts, the wait for approval.

import { h } from './dom.js';
import { t, time } from './i18n.js';

/** A step's name from its node or checkpoint key (`draft`, or `draft#2` on a second visit). */
function stepName(key) {
  return key ? t('step_' + String(key).split('#')[0]) : '';
}

// Messages the worker writes in English, for operators; the page says them in its own words.
const TIMED_OUT = /^node ([\w#]+) timed out after (\d+) ms$/;
const GAVE_UP = /^gave up after (\d+) attempts; last error in [^:]+: ([\s\S]*)$/;

/** What went wrong, in the page's words when the message is one it knows; else as written. */
function cause(message) {
  const timedOut = TIMED_OUT.exec(message);
  if (!timedOut) return message;
  return t('err_timeout', { step: stepName(timedOut[1]), seconds: Math.round(Number(timedOut[2]) / 1000) });
}

/** The sentence for a failed plan's error (`{code, message, node}`, as in `plans.error`). */
export function failure(error) {
  const message = error && typeof error === 'object' ? error.message || error.code || '' : String(error || '');
  const gaveUp = GAVE_UP.exec(message);
  if (gaveUp) return t('failedAfter', { attempts: gaveUp[1], cause: cause(gaveUp[2]) });
  return t('failedBecause', { message: cause(message) });
}

/** The sentence for one event's data (`{kind, node, attempt, detail, …}`). */
export function describe(e) {
  const d = e.detail || {};
  const step = stepName(e.node);
  const error = d.error && typeof d.error === 'object' ? d.error.message : d.error;
  switch (e.kind) {
    case 'node_started':
    case 'node_finished':
      return t('ev_' + e.kind, { step });
    case 'timeout':
      return t(d.scope === 'plan' ? 'ev_timeout_plan' : 'ev_timeout', {
        step,
        seconds: Math.round((d.after_ms || 0) / 1000),
      });
    case 'retry_scheduled':
      if (TIMED_OUT.test(error || '')) return t('ev_retry_because', { cause: cause(error), time: time(d.run_at) });
      return t('ev_retry_scheduled', { message: error || '', time: time(d.run_at) });
    case 'waiting_for_upstream':
      return t('ev_' + e.kind, { message: error || '', time: time(d.run_at) });
    case 'awaiting_approval':
      return t('ev_awaiting_approval', { reason: d.reason || '' });
    case 'failed':
      return failure(d.message ? d : d.error);
    case 'started':
      return t('ev_started', { attempt: e.attempt });
    default:
      return t('ev_' + e.kind) === 'ev_' + e.kind ? t('ev_other', { kind: e.kind }) : t('ev_' + e.kind);
  }
}

/** Events that need the traveller's attention are marked so. */
function tone(kind) {
  if (['retry_scheduled', 'waiting_for_upstream', 'timeout', 'handed_back', 'rescued', 'rescued_stuck'].includes(kind)) return 'warn';
  if (['failed', 'rejected', 'cancelled'].includes(kind)) return 'bad';
  if (['succeeded', 'approved', 'node_finished'].includes(kind)) return 'good';
  if (kind === 'awaiting_approval') return 'ask';
  return '';
}

export function createProgress() {
  const bar = h('progress', { id: 'progress-bar', max: 100, value: 0 });
  const percent = h('span', { id: 'progress-percent', class: 'percent', text: '0%' });
  const note = h('p', { id: 'progress-note', class: 'note', role: 'status' });
  const list = h('ol', { id: 'events', class: 'events', 'aria-live': 'polite' });
  const summary = h('summary', { text: t('progressLog') });
  const log = h('details', { class: 'log', open: true }, summary, list);
  const element = h(
    'section',
    { id: 'progress', class: 'panel', 'aria-labelledby': 'progress-title' },
    h('h2', { id: 'progress-title', text: t('progressTitle') }),
    h('div', { class: 'bar' }, bar, percent),
    note,
    log,
  );
  let folded = false;
  const seen = new Set();
  const events = [];
  const row = (e) =>
    h(
      'li',
      { class: `event ${tone(e.kind)}`, 'data-kind': e.kind },
      h('time', { datetime: e.at, text: time(e.at) }),
      h('span', { text: describe(e) }),
    );
  return {
    element,
    add(e) {
      if (seen.has(e.id)) return;
      seen.add(e.id);
      events.push(e);
      note.textContent = '';
      bar.value = e.percent;
      percent.textContent = `${e.percent}%`;
      list.append(row(e));
      list.scrollTop = list.scrollHeight;
    },
    reconnecting() {
      note.textContent = t('reconnecting');
    },
    /** The stream has ended for good: nothing is being reconnected. */
    settled() {
      note.textContent = '';
    },
    /** Folds the list away once, when the plan is done: the plan matters more then. */
    foldOnce() {
      if (folded) return;
      folded = true;
      log.open = false;
    },
    /** Rewrites every line in the current language. */
    translate() {
      element.querySelector('h2').textContent = t('progressTitle');
      summary.textContent = t('progressLog');
      list.replaceChildren(...events.map(row));
    },
  };
}
