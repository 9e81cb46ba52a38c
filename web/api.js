// The API client: every call carries the API key when there is one, and every refusal
// comes back as an ApiError holding the JSON error body's code, message and field.

const KEY = 'planner.apiKey';

export class ApiError extends Error {
  constructor(status, code, message, field) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field || null;
  }
}

export function apiKey() {
  try {
    return sessionStorage.getItem(KEY) || '';
  } catch {
    return '';
  }
}

export function setApiKey(key) {
  try {
    if (key) sessionStorage.setItem(KEY, key);
    else sessionStorage.removeItem(KEY);
  } catch {
    // Storage refused: the key is not kept.
  }
}

export function authHeaders(extra) {
  const headers = { ...(extra || {}) };
  const key = apiKey();
  if (key) headers.Authorization = `Bearer ${key}`;
  return headers;
}

/** The error a non-2xx answer describes. */
export async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // Not JSON: a proxy's page, say.
  }
  const e = body && body.error ? body.error : {};
  return new ApiError(response.status, e.code || 'http_' + response.status, e.message || response.statusText || 'HTTP ' + response.status, e.field);
}

async function call(method, path, body) {
  const init = { method, headers: authHeaders({ Accept: 'application/json' }), cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await errorOf(response);
  return response.status === 204 ? null : response.json();
}

export const api = {
  destinations: () => call('GET', '/v1/destinations'),
  plans: (limit = 20) => call('GET', `/v1/plans?limit=${limit}`),
  plan: (id) => call('GET', `/v1/plans/${encodeURIComponent(id)}`),
  submit: (request) => call('POST', '/v1/plans', request),
  action: (id, what) => call('POST', `/v1/plans/${encodeURIComponent(id)}/${what}`),
};

/**
 * Fetches `path` with the key and hands the browser a file to save. An <a download> with
 * a plain URL could not send the Authorization header, so the file goes through a Blob.
 * Returns the link it clicked (kept in the page until the next download).
 */
export async function download(path, filename, holder) {
  const response = await fetch(path, { headers: authHeaders(), cache: 'no-store' });
  if (!response.ok) throw await errorOf(response);
  const blob = await response.blob();
  const previous = holder.querySelector('a[download]');
  if (previous) {
    URL.revokeObjectURL(previous.href);
    previous.remove();
  }
  const link = document.createElement('a');
  link.href = URL.createObjectURL(blob);
  link.download = filename;
  link.className = 'download-link';
  link.textContent = filename;
  holder.append(link);
  link.click();
  return link;
}
