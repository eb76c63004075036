// The public HTTP/JSON API (docs/http.md), called with the token the person
// typed (kept in sessionStorage: for this tab's session only). A 401 from
// any call or stream forgets the token and asks for one again.

const TOKEN_KEY = 'vla.token';
let unauthenticatedHandler = () => {};

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// `handler(message, sent)` runs when the server refuses the call: `sent`
// says whether it carried a token.
export function onUnauthenticated(handler) {
  unauthenticatedHandler = handler;
}

function headers(extra = {}) {
  const h = { Accept: 'application/json', ...extra };
  const t = token();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

function url(path, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

async function answer(response) {
  if (response.ok) return response.json();
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    if (body.error && body.error.message) message = body.error.message;
  } catch (e) {
    // Not Google's error shape: keep the status line.
  }
  if (response.status === 401) {
    const sent = !!token();
    setToken('');
    unauthenticatedHandler(message, sent);
  }
  throw new ApiError(response.status, message);
}

export async function get(path, params) {
  return answer(await fetch(url(path, params), { headers: headers() }));
}

export async function post(path, body) {
  return answer(await fetch(path, {
    method: 'POST',
    headers: headers({ 'Content-Type': 'application/json' }),
    body: JSON.stringify(body),
  }));
}

// Every item of a List method: `field` of each page, pages of 1000.
export async function listAll(path, field, params = {}) {
  const items = [];
  let pageToken = '';
  do {
    const page = await get(path, { ...params, pageSize: 1000, pageToken });
    items.push(...(page[field] || []));
    pageToken = page.nextPageToken || '';
  } while (pageToken);
  return items;
}

// Follows a server stream (NDJSON, one message per line) until close():
// `onOpen()` when a connection is made (the stream starts with a fresh
// snapshot then), `onMessage(message)` for each message, `onState(text)`
// with "live" or "reconnecting". A dropped stream reconnects after 1, 2, 4,
// up to 10 s; a refused token stops it.
export function watch(path, params, { onOpen, onMessage, onState }) {
  const abort = new AbortController();
  let closed = false;
  let delay = 1000;
  const run = async () => {
    while (!closed) {
      try {
        const response = await fetch(url(path, params), {
          headers: headers({ Accept: 'application/x-ndjson' }),
          signal: abort.signal,
        });
        if (!response.ok) await answer(response);  // throws
        onOpen();
        onState('live');
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffered = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffered += decoder.decode(value, { stream: true });
          let newline;
          while ((newline = buffered.indexOf('\n')) >= 0) {
            const line = buffered.slice(0, newline).trim();
            buffered = buffered.slice(newline + 1);
            if (!line) continue;  // heartbeat
            const message = JSON.parse(line);
            if (message.error) throw new ApiError(message.error.code, message.error.message);
            delay = 1000;
            try {
              onMessage(message);
            } catch (err) {
              console.error(err);  // a bug of the page: the stream goes on
            }
          }
        }
      } catch (e) {
        if (closed) return;
        if (e instanceof ApiError && e.status === 401) return;
      }
      if (closed) return;
      onState('reconnecting');
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 10000);
    }
  };
  run();
  return {
    close() {
      closed = true;
      abort.abort();
    },
  };
}
