// Talking to the node: JSON calls, Server-Sent Event streams and file uploads. Every request is
// same-origin and carries the session's CSRF token, which the server wrote into the page.

const SESSION_ENDED =
  'Your browser session has ended. Run `secondme-node open` in a terminal for a new login link.';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

function csrfToken() {
  return document.querySelector('meta[name="csrf-token"]')?.content ?? '';
}

function headers(extra = {}) {
  return { 'X-CSRF-Token': csrfToken(), ...extra };
}

/** An ApiError from a failed response: the server's {"error": {code, message}} where it sent one. */
function failure(status, text) {
  if (status === 401) return new ApiError(401, 'unauthenticated', SESSION_ENDED);
  let code = `http_${status}`;
  let message = `The node answered ${status}.`;
  try {
    const error = JSON.parse(text).error;
    if (error?.message) ({ code, message } = error);
  } catch {
    if (text && text.length < 300) message = text;
  }
  return new ApiError(status, code, message);
}

function send(path, { method = 'GET', body, query, signal } = {}) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(query ?? {})) {
    for (const item of [value].flat()) {
      if (item !== undefined && item !== null && item !== '') url.searchParams.append(key, item);
    }
  }
  const init = { method, headers: headers(), credentials: 'same-origin', signal };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  return fetch(url, init);
}

/** A JSON call; resolves to the parsed body (or a Blob for anything that is not JSON). */
export async function api(path, options = {}) {
  const response = await send(path, options);
  if (!response.ok) throw failure(response.status, await response.text());
  const type = response.headers.get('Content-Type') ?? '';
  return type.includes('json') ? response.json() : response.blob();
}

/** Blocks of "event: NAME\ndata: JSON" separated by blank lines, as (name, data) pairs. */
function parseBlock(block) {
  let name = 'message';
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const key = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (key === 'event') name = value;
    else if (key === 'data') data.push(value);
  }
  if (!data.length) return null;
  const text = data.join('\n');
  try {
    return [name, JSON.parse(text)];
  } catch {
    return [name, text];
  }
}

/**
 * POST a JSON body and read the Server-Sent Events that come back, calling onEvent(name, data)
 * for each. EventSource cannot POST nor send the CSRF header, hence fetch and a reader. An
 * `error` event ends the stream with an ApiError. Resolves when the server closes the stream.
 */
export async function stream(path, body, onEvent, { signal } = {}) {
  const response = await send(path, { method: 'POST', body, signal });
  if (!response.ok) throw failure(response.status, await response.text());
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const flush = (final) => {
    const blocks = buffer.split(/\r?\n\r?\n/);
    buffer = final ? '' : blocks.pop();
    for (const block of blocks) {
      const event = parseBlock(block);
      if (!event) continue;
      if (event[0] === 'error') {
        const error = event[1] ?? {};
        throw new ApiError(200, error.code ?? 'error', error.message ?? String(error));
      }
      onEvent(...event);
    }
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      flush(false);
    }
    buffer += decoder.decode();
    flush(true);
  } catch (error) {
    reader.cancel().catch(() => {});
    throw error;
  }
}

/**
 * Upload one file's bytes to the memory (XMLHttpRequest, for upload progress). onProgress gets
 * a fraction 0..1. Resolves to the ingest result.
 */
export function upload(file, { tags = [], me = '', onProgress } = {}) {
  const url = new URL('/api/memory/ingest', location.origin);
  url.searchParams.set('path', file.name);
  // The file's own time: the last resort for when what it says happened.
  if (file.lastModified) url.searchParams.set('mtime', String(file.lastModified / 1000));
  for (const tag of tags) url.searchParams.append('tag', tag);
  if (me) url.searchParams.set('me', me);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', url);
    xhr.withCredentials = true;
    xhr.setRequestHeader('X-CSRF-Token', csrfToken());
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable) onProgress?.(event.loaded / event.total);
    };
    xhr.onload = () => {
      if (xhr.status < 200 || xhr.status >= 300) {
        reject(failure(xhr.status, xhr.responseText));
        return;
      }
      try {
        resolve(JSON.parse(xhr.responseText));
      } catch {
        reject(new ApiError(xhr.status, 'bad_response', 'The node sent an unreadable answer.'));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', `Could not reach the node to upload ${file.name}.`));
    xhr.send(file);
  });
}

/** End this browser's session and go back to the login page. */
export async function logout() {
  await fetch('/logout', { method: 'POST', headers: headers(), credentials: 'same-origin' });
  location.assign('/');
}
