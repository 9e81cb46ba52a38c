// Server-Sent Events over fetch(): EventSource cannot send an Authorization header. Reads
// the stream, dispatches each event, and when the connection drops before the plan is
// finished reconnects with Last-Event-ID, so no event is lost or repeated.

import { authHeaders, errorOf } from './api.js';

const RECONNECT_MS = 1000;
const TERMINAL = ['succeeded', 'failed', 'cancelled', 'rejected'];

/**
 * Follows `url`. `onEvent({id, event, data})` for each event; `onEnd()` when the server says
 * nothing more will come; `onError(ApiError)` when it refuses (the stream stops);
 * `onReconnect()` before each reconnection. Returns a function that stops following.
 */
export function follow(url, { onEvent, onEnd, onError, onReconnect }) {
  let lastId = null;
  let stopped = false;
  let controller = null;
  let timer = null;
  // The last event seen finished the plan: the server is about to close the stream.
  let finished = false;

  async function connect() {
    controller = new AbortController();
    const headers = authHeaders({ Accept: 'text/event-stream' });
    if (lastId !== null) headers['Last-Event-ID'] = lastId;
    let response;
    try {
      response = await fetch(url, { headers, signal: controller.signal, cache: 'no-store' });
    } catch {
      return again();
    }
    if (response.status === 204) return finish();
    if (!response.ok) {
      const error = await errorOf(response);
      // A 5xx or a timeout is worth another try; a refusal is not.
      if (response.status >= 500 || response.status === 408 || response.status === 429) return again();
      stopped = true;
      return onError(error);
    }
    try {
      await read(response.body.getReader());
    } catch {
      // The connection broke mid-stream.
    }
    if (finished) finish();
    else again();
  }

  async function read(reader) {
    const decoder = new TextDecoder();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done || stopped) return;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = boundary(buffer)) !== null) {
        dispatch(buffer.slice(0, end.at));
        buffer = buffer.slice(end.at + end.length);
      }
    }
  }

  function dispatch(block) {
    let id = null;
    let event = 'message';
    const data = [];
    for (const line of block.split(/\r\n|\r|\n/)) {
      if (line === '' || line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'id') id = value;
      else if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (id !== null) lastId = id;
    if (data.length === 0 || stopped) return;
    let parsed;
    try {
      parsed = JSON.parse(data.join('\n'));
    } catch {
      return;
    }
    finished = TERMINAL.includes(parsed.status);
    onEvent({ id, event, data: parsed });
  }

  function again() {
    if (stopped) return;
    if (onReconnect) onReconnect();
    timer = setTimeout(connect, RECONNECT_MS);
  }

  function finish() {
    if (stopped) return;
    stopped = true;
    onEnd();
  }

  connect();
  return () => {
    stopped = true;
    clearTimeout(timer);
    if (controller) controller.abort();
  };
}

/** Where the first event of `buffer` ends: a blank line, in any of SSE's line endings. */
function boundary(buffer) {
  const match = /\r\n\r\n|\n\n|\r\r/.exec(buffer);
  return match ? { at: match.index, length: match[0].length } : null;
}
