// The trip form: filled from /v1/destinations, read into a POST /v1/plans body holding only
// what the traveller gave, and marked at the field an API refusal names.

import { h, byId, clear } from './dom.js';
import { t, lang } from './i18n.js';

const INTERESTS = ['food', 'nature', 'history', 'culture', 'art', 'shopping', 'nightlife', 'family', 'photography'];
// API field → the form control that sets it.
const CONTROLS = { destination: 'destination', start_date: 'start_date', days: 'days', travelers: 'travelers', budget: 'budget', currency: 'currency', pace: 'pace', query: 'query', interests: 'interests' };

let destinations = [];

export function setDestinations(list) {
  destinations = list || [];
  fillDestinations();
}

/** (Re)builds the translated parts: destination names and interest checkboxes. */
export function translateForm() {
  fillDestinations();
  const box = byId('interests');
  const checked = new Set([...box.querySelectorAll('input:checked')].map((i) => i.value));
  for (const el of [...box.children]) if (el.tagName !== 'LEGEND') el.remove();
  for (const name of INTERESTS) {
    const id = `interest-${name}`;
    box.append(
      h(
        'span',
        { class: 'chip' },
        h('input', { type: 'checkbox', id, name: 'interests', value: name, checked: checked.has(name) }),
        h('label', { for: id, text: t('interest_' + name) }),
      ),
    );
  }
}

function fillDestinations() {
  const select = byId('destination');
  const chosen = select.value;
  clear(select);
  select.append(h('option', { value: '', text: t('anyDestination') }));
  for (const d of destinations) {
    const name = lang() === 'zh' ? `${d.name_zh} · ${d.name_en}` : `${d.name_en} · ${d.name_zh}`;
    select.append(h('option', { value: d.id, text: name }));
  }
  select.value = chosen;
}

/** A destination's name in the page's language, from its id (or the name as given). */
export function destinationName(id) {
  const d = destinations.find((x) => x.id === id);
  if (!d) return id;
  return lang() === 'zh' ? d.name_zh : d.name_en;
}

/** The request the form describes, or null when it describes nothing. */
export function readRequest() {
  const value = (id) => byId(id).value.trim();
  const body = {};
  const query = value('query');
  if (query) body.query = query;
  if (value('destination')) body.destination = value('destination');
  if (value('start_date')) body.start_date = value('start_date');
  if (value('days')) body.days = Number(value('days'));
  if (value('travelers')) body.travelers = Number(value('travelers'));
  if (value('budget')) body.budget = { amount: Number(value('budget')), currency: value('currency') };
  if (value('pace')) body.pace = value('pace');
  const interests = [...document.querySelectorAll('#interests input:checked')].map((i) => i.value);
  if (interests.length) body.interests = interests;
  if (byId('require_approval').checked) body.require_approval = true;
  if (!body.query && !body.destination) return null;
  // Without text the plan would take its language from the destination's id: ask for the
  // page's.
  if (!body.query) body.language = lang();
  return body;
}

export function markField(field) {
  for (const el of document.querySelectorAll('#trip-form [aria-invalid]')) el.removeAttribute('aria-invalid');
  const top = field ? String(field).split('.')[0] : null;
  const id = top && CONTROLS[top];
  const el = id && byId(id);
  if (el) {
    el.setAttribute('aria-invalid', 'true');
    if (typeof el.focus === 'function' && el.tagName !== 'FIELDSET') el.focus();
  }
}
