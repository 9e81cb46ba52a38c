// The finished plan, read from its `result`: one card per day (weather, timed items,
// lodging, the day's cost, the route sketch), the costs against the budget, tips, warnings
// and sources.

import { h } from './dom.js';
import { t, money, has } from './i18n.js';
import { routeSketch, stops } from './route.js';

export function renderResult(result) {
  const currency = result.currency || 'CNY';
  return h(
    'div',
    { id: 'result', class: 'result' },
    costs(result, currency),
    h('div', { id: 'days', class: 'days' }, (result.days || []).map((day, i) => dayCard(day, i, currency))),
    h(
      'div',
      { class: 'extras' },
      list('warnings', t('warningsTitle'), result.warnings),
      list('tips', t('tipsTitle'), result.tips),
      sources(result.sources),
    ),
  );
}

function dayCard(day, index, currency) {
  const w = day.weather || {};
  const numbers = new Map(stops(day).filter((s) => !s.lodging).map((s) => [s.name, s.n]));
  const weather = [w.condition, tempRange(w), typeof w.precip_mm === 'number' ? `${w.precip_mm} mm` : null]
    .filter(Boolean)
    .join(' · ');
  const sketch = routeSketch(day, index);
  return h(
    'article',
    { class: 'day-card', 'aria-labelledby': `day-${index}-title` },
    h(
      'header',
      { class: 'day-head' },
      h('h3', { id: `day-${index}-title` }, t('day', { n: index + 1 }), h('span', { class: 'date', text: day.date })),
      h('p', { class: 'weather', title: t('weather') }, weatherIcon(w), weather),
    ),
    sketch ? h('figure', { class: 'route-figure' }, sketch) : null,
    h('ol', { class: 'items' }, (day.items || []).map((item) => itemRow(item, currency, numbers))),
    day.lodging
      ? h(
          'p',
          { class: 'lodging' },
          h('span', { class: 'marker lodging-marker', 'aria-hidden': 'true', text: 'H' }),
          h('strong', { text: `${t('lodging')}: ` }),
          day.lodging.name,
          h('span', { class: 'cost', text: money(day.lodging.cost, currency) }),
        )
      : null,
    h('p', { class: 'day-cost' }, t('dayCost'), h('strong', { class: 'cost', 'data-amount': day.cost, text: money(day.cost, currency) })),
  );
}

function itemRow(item, currency, numbers) {
  const n = item.place_id ? numbers.get(item.name) : undefined;
  const details = [];
  if (item.kind === 'transfer') {
    details.push(t('travelLeg', { mode: modeName(item.mode), n: minutesBetween(item.start, item.end) }));
  } else if (item.travel_minutes > 0) {
    details.push(t('travelLeg', { mode: modeName('walk'), n: item.travel_minutes }));
  }
  if (item.note) details.push(item.note);
  return h(
    'li',
    { class: `item kind-${item.kind}` },
    h('span', { class: 'when', text: `${item.start}–${item.end}` }),
    h(
      'span',
      { class: 'what' },
      n ? h('span', { class: 'marker', 'aria-hidden': 'true', text: String(n) }) : null,
      h('span', { class: 'kind', text: has('kind_' + item.kind) ? t('kind_' + item.kind) : item.kind }),
      h('span', { class: 'name', text: item.name }),
      details.length ? h('span', { class: 'detail', text: details.join(' · ') }) : null,
    ),
    h('span', { class: 'cost', text: item.cost > 0 ? money(item.cost, currency) : '' }),
  );
}

function costs(result, currency) {
  const c = result.costs || {};
  const rows = ['lodging', 'food', 'tickets', 'transport'].map((k) =>
    h('tr', {}, h('th', { scope: 'row', text: t('cost_' + k) }), h('td', { text: money(c[k], currency) })),
  );
  rows.push(
    h(
      'tr',
      { class: 'total' },
      h('th', { scope: 'row', text: t('cost_total') }),
      h('td', { id: 'cost-total', 'data-amount': c.total, text: money(c.total, currency) }),
    ),
  );
  const budget = typeof result.budget === 'number' ? result.budget : null;
  let verdict;
  if (budget === null) verdict = h('p', { class: 'verdict', text: t('noBudget') });
  else if (c.total <= budget) verdict = h('p', { class: 'verdict good', text: t('withinBudget', { left: money(budget - c.total, currency) }) });
  else verdict = h('p', { class: 'verdict bad', text: t('overBudget', { over: money(c.total - budget, currency) }) });
  const share = budget ? Math.min(100, Math.round((c.total / budget) * 100)) : null;
  const meter = share === null ? null : h('meter', { min: 0, max: 100, low: 80, high: 99, optimum: 50, value: share, 'aria-label': t('budgetLine', { budget: money(budget, currency) }) });
  return h(
    'section',
    { id: 'costs', class: 'panel' },
    h('h2', { text: t('costsTitle') }),
    h('table', { class: 'costs' }, h('tbody', {}, rows)),
    budget === null ? null : h('p', { id: 'budget-limit', class: 'budget', 'data-amount': budget, text: t('budgetLine', { budget: money(budget, currency) }) }),
    meter,
    verdict,
  );
}

function list(id, title, entries) {
  if (!entries || entries.length === 0) return null;
  return h('section', { id, class: 'panel' }, h('h2', { text: title }), h('ul', {}, entries.map((e) => h('li', { text: String(e) }))));
}

function sources(entries) {
  if (!entries || entries.length === 0) return null;
  return h(
    'section',
    { id: 'sources', class: 'panel' },
    h('h2', { text: t('sourcesTitle') }),
    h(
      'ul',
      { class: 'sources' },
      entries.map((s) => {
        const kind = has('source_' + s.kind) ? t('source_' + s.kind) : s.kind;
        const how = has('provider_' + s.provider) ? t('provider_' + s.provider) : s.provider;
        return h('li', {}, h('strong', { text: kind }), `: ${how}`);
      }),
    ),
  );
}

function tempRange(w) {
  if (typeof w.temp_min !== 'number' || typeof w.temp_max !== 'number') return null;
  return `${Math.round(w.temp_min)}–${Math.round(w.temp_max)}°C`;
}

function weatherIcon(w) {
  const icon = w.rainy ? '☂' : '☀';
  return h('span', { class: 'weather-icon', 'aria-hidden': 'true', text: icon });
}

function modeName(mode) {
  return has('mode_' + mode) ? t('mode_' + mode) : mode || '';
}

function minutesBetween(start, end) {
  const m = (s) => {
    const [hh, mm] = String(s).split(':').map(Number);
    return hh * 60 + mm;
  };
  const d = m(end) - m(start);
  return Number.isFinite(d) && d >= 0 ? d : 0;
}
