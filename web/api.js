// api.js: the token and the JSON API.  The token is kept in sessionStorage
// (this tab only, gone when it closes), never in localStorage, a cookie or
// a URL, and is sent as an Authorization header.  Every request stays on
// this origin (the Content-Security-Policy allows nothing else).

const KEY = 'intentd.token';

export const token = {
  get() {
    try {
      return sessionStorage.getItem(KEY) || '';
    } catch {
      return '';
    }
  },
  set(t) {
    try {
      sessionStorage.setItem(KEY, t);
    } catch {
      // Storage refused (private mode): the token lives in memory only.
    }
    memory = t;
  },
  clear() {
    try {
      sessionStorage.removeItem(KEY);
    } catch {
      // nothing stored
    }
    memory = '';
  },
  value() {
    return this.get() || memory;
  },
};
let memory = '';

/** An answer other than 2xx: status, the server's error code, message and details. */
export class ApiError extends Error {
  constructor(status, body) {
    const err = body && typeof body === 'object' && body.error ? body.error : null;
    super(err && err.message ? err.message : `HTTP ${status}`);
    this.status = status;
    this.code = err ? err.code : 'http_' + status;
    this.details = (err && err.details) || {};
  }
}

/** Called on any 401 (the token is wrong or was removed from the server). */
let onUnauthorized = () => {};
export function setUnauthorizedHandler(f) {
  onUnauthorized = f;
}

/** The standard request headers with the token. */
export function authHeaders(extra) {
  const h = { Accept: 'application/json', ...extra };
  const t = token.value();
  if (t) h.Authorization = 'Bearer ' + t;
  return h;
}

/**
 * A JSON request to this server.  Resolves with {status, body}; rejects
 * with ApiError for a non-2xx answer (after calling the 401 handler for a
 * 401) or with the fetch error when the server cannot be reached.
 */
export async function api(path, { method = 'GET', body, signal } = {}) {
  const init = {
    method,
    headers: authHeaders(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
    cache: 'no-store',
    credentials: 'omit',
    referrerPolicy: 'no-referrer',
    signal,
  };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(path, init);
  const text = await res.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!res.ok) {
    const e = new ApiError(res.status, parsed);
    if (res.status === 401) onUnauthorized(e);
    throw e;
  }
  return { status: res.status, body: parsed };
}
