// Chat: talk to your Second Me; answers stream in, each with the memories it drew on.

import { api, stream } from '../api.js';
import { clear, field, fmtTime, h, select, shortId, truncate } from '../dom.js';
import { act, onSubmit, showError } from '../notify.js';

export const title = 'Chat';

/** One line per source: where it came from, then what it said. */
/** Seconds into a recording as "0:07", "12:30" or "1:02:05". */
function clock(seconds) {
  const whole = Math.floor(seconds);
  const [h_, m, s] = [Math.floor(whole / 3600), Math.floor((whole % 3600) / 60), whole % 60];
  const pad = (n) => String(n).padStart(2, '0');
  return h_ ? `${h_}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

function sourceItem(hit) {
  let where;
  if (hit.layer === 'peer') where = `from ${hit.peer || shortId(hit.peer_id)}: ${hit.title}`;
  else if (hit.layer === 'l1') where = `L1 ${hit.kind}: ${hit.title}`;
  else {
    const src = hit.source ?? {};
    const name = src.title || src.name || src.path;
    where = src.path && src.path !== name ? `${name} (${src.path})` : name;
    if (src.at != null) where += `, at ${clock(src.at)}`;
    else if (src.turns) where += src.turns[0] === src.turns[1] ? `, turn ${src.turns[0]}` : `, turns ${src.turns[0]}–${src.turns[1]}`;
    if (src.when) where += `, ${src.when}`;
  }
  return h('li', null, h('span', { class: 'source-where', text: where }), h('q', { text: truncate(hit.text ?? '', 240) }));
}

function sourcesBlock(hits) {
  return h(
    'div',
    { class: 'sources' },
    h('h3', { text: 'Memories it looked at' }),
    hits.length ? h('ol', null, hits.map(sourceItem)) : h('p', { class: 'empty', text: 'No memories were found.' }),
  );
}

/** After the answer: mark the memories it rests on, or say that none supports an answer. */
function markGrounding(block, grounding) {
  if (!block) return;
  const items = [...block.querySelectorAll('li')];
  const used = new Set(grounding.used ?? []);
  items.forEach((item, i) => {
    if (used.has(i + 1)) item.classList.add('used');
    else item.classList.add('unused');
  });
  const heading = block.querySelector('h3');
  if (grounding.abstained) {
    heading.textContent = 'Not in memory';
    block.append(h('p', { class: 'empty', text: `No memory supports an answer (${grounding.reason || 'the memories do not say'}).` }));
  } else if (used.size) {
    heading.textContent = `Sources (the answer used ${[...used].map((n) => `[${n}]`).join(', ')})`;
  }
}

function bubble(role, text) {
  const speaker = role === 'user' ? 'You' : 'Second Me';
  const body = h('div', { class: 'text', text });
  const el = h('article', { class: `msg ${role}` }, h('h3', { class: 'speaker', text: speaker }), body);
  return { el, body };
}

export function mount(root, { signal }) {
  let sessionId = null;
  let busy = false;

  const roles = select([['', 'Yourself (no role)']], { name: 'role' });
  const sessions = h('ul', { class: 'sessions' });
  const log = h('div', { class: 'transcript', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation' });
  const message = h('textarea', { name: 'message', rows: 3, required: true, placeholder: 'Ask your Second Me…' });
  const send = h('button', { type: 'submit', class: 'primary' }, 'Send');
  const form = h('form', { class: 'composer' }, field('Message', message), h('div', { class: 'row' }, send));
  const empty = () => h('p', { class: 'empty', text: 'Ask anything: your Second Me answers as you, from your memory.' });

  function newChat(focus = true) {
    if (busy) return; // the answer being written belongs to the current conversation
    sessionId = null;
    clear(log, empty());
    markCurrent();
    if (focus) message.focus();
  }

  function markCurrent() {
    for (const button of sessions.querySelectorAll('button')) {
      if (button.dataset.id === sessionId) button.setAttribute('aria-current', 'true');
      else button.removeAttribute('aria-current');
    }
  }

  async function loadSessions() {
    const list = await api('/api/chat/sessions', { signal });
    clear(
      sessions,
      list.length ? null : h('li', { class: 'empty', text: 'No conversations yet.' }),
      list.map((one) =>
        h('li', null, h('button', { type: 'button', class: 'session', 'data-id': one.session_id, on: { click: () => openSession(one.session_id) } },
          h('span', { text: fmtTime(one.updated) }),
          h('small', { text: `${one.messages} messages` })))),
    );
    markCurrent();
  }

  async function openSession(id) {
    if (busy) return;
    const messages = await api(`/api/chat/sessions/${encodeURIComponent(id)}`, { signal }).catch(showError);
    if (!messages) return;
    sessionId = id;
    clear(log, messages.map((m) => bubble(m.role, m.content).el));
    markCurrent();
    message.focus();
  }

  onSubmit(form, async () => {
    const text = message.value.trim();
    if (!text || busy) return;
    busy = true;
    log.querySelector('.empty')?.remove();
    log.append(bubble('user', text).el);
    message.value = '';
    const answer = bubble('assistant', '');
    answer.el.setAttribute('aria-busy', 'true');
    log.append(answer.el);
    const body = { message: text, session_id: sessionId ?? undefined, role: roles.value || undefined };
    try {
      await stream('/api/chat', body, (event, data) => {
        if (event === 'sources') {
          sessionId = data.session_id;
          answer.sources = sourcesBlock(data.sources ?? []);
          answer.el.append(answer.sources);
        } else if (event === 'grounding') {
          markGrounding(answer.sources, data);
        } else if (event === 'token') {
          answer.body.append(data.text);
        }
        log.scrollTop = log.scrollHeight;
      }, { signal });
    } catch (error) {
      answer.body.append(h('span', { class: 'failed', text: ' (the answer stopped: see the error above)' }));
      throw error;
    } finally {
      busy = false;
      answer.el.removeAttribute('aria-busy');
    }
    await loadSessions();
  });

  // Enter sends, Shift+Enter starts a new line.
  message.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit(send);
    }
  });

  const newButton = h('button', { type: 'button', on: { click: () => newChat() } }, 'New chat');
  root.append(
    h('h1', { tabindex: -1, text: title }),
    h('div', { class: 'chat-layout' },
      h('aside', { class: 'card', 'aria-labelledby': 'sessions-h' },
        h('h2', { id: 'sessions-h', text: 'Conversations' }), newButton, sessions),
      h('section', { class: 'card chat-main', 'aria-label': 'Current conversation' },
        field('Role', roles, 'Speak as yourself, or as one of your roles.'), log, form)),
  );
  newChat(false);

  act(null, async () => {
    const list = await api('/api/roles', { signal });
    for (const role of list) {
      roles.append(h('option', { value: role.name, text: role.description ? `${role.name} — ${role.description}` : role.name }));
    }
  });
  act(null, loadSessions);
}
