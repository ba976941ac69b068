// Groups: discussions among several people's Second Mes, moderated by one node, watched live.

import { api, stream } from '../api.js';
import { checkbox, clear, field, fmtMs, h, section, select, shortId, splitList, table } from '../dom.js';
import { act, info, onSubmit, showError } from '../notify.js';
import { describeScope } from './grants.js';

export const title = 'Groups';

/** The scope fields a member's turns may draw on (none: the public profile only). */
function scopeFields() {
  const tags = h('input', { type: 'text', name: 'tags', autocomplete: 'off' });
  const topics = h('input', { type: 'text', name: 'topics', autocomplete: 'off' });
  const all = checkbox('All of your memory');
  const profile = checkbox('Your L1 profile');
  return {
    el: h('fieldset', null, h('legend', { text: 'What your Second Me may draw on' }),
      field('Tags', tags, 'Comma separated. With nothing chosen, only your public profile.'), field('Topics', topics), all.el, profile.el),
    body() {
      const body = { tags: splitList(tags.value), topics: splitList(topics.value), profile: profile.box.checked };
      if (all.box.checked) body.layers = ['l0', 'l1'];
      return body;
    },
  };
}

function messageItem(m) {
  const name = (peer) => m.names?.[peer] ?? shortId(peer);
  const who = m.from_name ?? name(m.from);
  let head;
  let text = m.text;
  let note = m.reason ? `why: ${m.reason}` : '';
  switch (m.kind) {
    case 'question':
      head = `${who} asks:`;
      note = `${m.rounds ?? '?'} round(s), until ${m.until ?? 'rounds'}${m.budget_s ? `, ${m.budget_s} s at most` : ''}`;
      break;
    case 'owner': head = `${who} (in person):`; break;
    case 'skip': head = `${name(m.about)}`; text = m.reason; note = ''; break; // the reason says "skipped: …"
    case 'membership': head = `${name(m.about)}:`; text = m.reason ?? m.text; note = ''; break;
    case 'summary': head = 'Summary:'; note = ''; break;
    case 'end': head = 'Ended:'; text = m.reason ?? m.text; note = ''; break;
    default: head = `${who}:`;
  }
  return h('li', { class: `turn kind-${m.kind}` },
    h('span', { class: 'seq', text: `[${m.seq}]` }), ' ', h('strong', { text: head }), ' ', h('span', { text: text ?? '' }),
    m.kind === 'summary' && m.positions ? h('ul', null, Object.entries(m.positions).map(([peer, pos]) => h('li', { text: `${name(peer)}: ${pos}` }))) : null,
    note ? h('small', { class: 'why', text: note }) : null);
}

export function mount(root, { signal }) {
  let current = null; // the open group's id
  let watching = null; // AbortController of the live watch
  let lastSeq = 0;

  const listBox = h('div', { class: 'table-wrap' });
  const detail = h('div');

  async function loadList() {
    const groups = await api('/api/groups', { signal });
    clear(listBox, table('Your groups', ['Group', 'Topic', 'You are', 'Status', 'Discussion', 'Members', ''], groups.map((g) => [
      g.name, g.topic || '—', g.role, g.status, g.state, String(g.members.length),
      h('button', { type: 'button', 'aria-label': `Open ${g.name}`, on: { click: (e) => act(e.currentTarget, () => open(g.group_id)) } }, 'Open'),
    ]), 'No groups yet.'));
  }

  // -- live transcript -----------------------------------------------------------------------
  const log = h('ol', { class: 'transcript-list', role: 'log', 'aria-live': 'polite', 'aria-label': 'Discussion transcript' });
  const summaryBox = h('div', { 'aria-live': 'polite' });

  function append(message) {
    if (message.seq <= lastSeq) return;
    lastSeq = message.seq;
    log.querySelector('.empty')?.remove();
    log.append(messageItem(message));
    log.scrollTop = log.scrollHeight; // follow the discussion as it grows
  }

  function watch(groupId, after) {
    watching?.abort();
    const controller = new AbortController();
    watching = controller;
    signal.addEventListener('abort', () => controller.abort(), { once: true });
    stream(`/api/groups/${encodeURIComponent(groupId)}/watch`, { after, follow: false }, (event, data) => {
      if (event !== 'message') return; // keep-alive pings
      append(data);
      if (data.kind === 'end') act(null, () => Promise.all([loadSummary(groupId), open(groupId, { keepWatch: true }), loadList()]));
    }, { signal: controller.signal }).catch(showError).finally(() => {
      if (watching === controller) watching = null;
    });
  }

  async function loadSummary(groupId) {
    const summary = await api(`/api/groups/${encodeURIComponent(groupId)}/summary`, { signal });
    clear(summaryBox, h('h3', { text: 'Summary' }), h('p', { text: summary.agreed }),
      h('ul', null, summary.positions.map((p) => h('li', null, h('strong', { text: `${p.name}: ` }), p.position))),
      summary.ended ? h('p', { class: 'hint', text: `Ended: ${summary.ended}` }) : null);
  }

  // -- one group -----------------------------------------------------------------------------
  async function open(groupId, { keepWatch = false } = {}) {
    const path = `/api/groups/${encodeURIComponent(groupId)}`;
    const group = await api(path, { signal });
    if (!keepWatch || current !== groupId) {
      watching?.abort();
      const transcript = await api(`${path}/transcript`, { signal });
      lastSeq = 0;
      clear(log, h('li', { class: 'empty', text: 'Nothing said yet.' }));
      clear(summaryBox);
      transcript.messages.forEach(append);
      if (group.state === 'running') watch(groupId, lastSeq);
      if (transcript.messages.some((m) => m.kind === 'summary')) act(null, () => loadSummary(groupId));
    }
    current = groupId;
    const moderator = group.role === 'moderator';
    const active = group.status === 'active';
    const post = (suffix, body) => api(`${path}/${suffix}`, { method: 'POST', body, signal });

    const parts = [
      h('p', null, `Moderated by ${group.moderator_name} · you are ${group.role} · ${group.status} · discussion ${group.state} · ${group.messages} message(s) · since ${fmtMs(group.created_ms)}`),
      group.topic ? h('p', { text: `Topic: ${group.topic}` }) : null,
      h('p', { class: 'hint', text: `Your scope: ${describeScope(group.scope)}` }),
      h('h3', { text: 'Members' }),
      h('ul', null, group.members.map((m) => h('li', { text: `${m.name} (${m.status})` }))),
    ];
    if (group.status === 'invited') {
      const scope = scopeFields();
      const decline = h('button', { type: 'button', class: 'danger', on: { click: () => act(decline, async () => {
        await post('accept', { decline: true });
        await Promise.all([open(groupId), loadList()]);
      }) } }, 'Decline');
      parts.push(onSubmit(h('form', { class: 'grid-form' }, h('h3', { text: 'You are invited' }), scope.el,
        h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Accept'), decline)), async () => {
        await post('accept', scope.body());
        await Promise.all([open(groupId), loadList()]);
      }));
    }
    if (moderator && active && group.state !== 'running') {
      const question = h('textarea', { name: 'question', rows: 2, required: true });
      const rounds = h('input', { type: 'number', name: 'rounds', min: 1, value: 3, inputmode: 'numeric' });
      const until = select([['rounds', 'the round limit'], ['consensus', 'they agree']], { name: 'until' });
      const budget = h('input', { type: 'number', name: 'budget', min: 1, inputmode: 'numeric' });
      const start = async (body) => {
        const started = await post('discuss', body);
        watch(groupId, started.after);
        await Promise.all([open(groupId, { keepWatch: true }), loadList()]);
      };
      parts.push(onSubmit(h('form', { class: 'grid-form' }, h('h3', { text: 'Start a discussion' }),
        field('Question', question), field('Rounds', rounds), field('Until', until), field('Time budget (seconds)', budget, 'Optional.'),
        h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Start discussion'),
          group.state === 'interrupted' ? h('button', { type: 'button', on: { click: (e) => act(e.currentTarget, () => start({ resume: true })) } }, 'Resume discussion') : null)),
      () => start({ question: question.value, rounds: Number(rounds.value) || undefined, until: until.value, budget_s: Number(budget.value) || undefined })));
    }
    if (moderator && group.state === 'running') {
      parts.push(h('button', { type: 'button', class: 'danger', on: { click: (e) => act(e.currentTarget, async () => {
        await post('stop');
        info('Stopping: the discussion ends after the current turn.');
      }) } }, 'Stop discussion'));
    }
    if (active) {
      const say = h('input', { type: 'text', name: 'say', required: true, autocomplete: 'off' });
      parts.push(onSubmit(h('form', { class: 'inline' }, field('Say in person', say), h('button', { type: 'submit' }, 'Say')), async () => {
        const answer = await post('say', { text: say.value });
        say.value = '';
        info(answer.queued ? 'You speak at the next turn.' : 'Said.');
        if (!watching) watch(groupId, lastSeq);
      }));
    }
    parts.push(h('h3', { text: 'Transcript' }), log, summaryBox,
      h('div', { class: 'row' },
        h('button', { type: 'button', on: { click: (e) => act(e.currentTarget, () => loadSummary(groupId)) } }, 'Show summary'),
        active ? h('button', { type: 'button', class: 'danger', on: { click: (e) => {
          if (!confirm(moderator ? `Close ${group.name} for everyone?` : `Leave ${group.name}?`)) return;
          act(e.currentTarget, async () => {
            await post(moderator ? 'close' : 'leave');
            await Promise.all([open(groupId), loadList()]);
          });
        } } }, moderator ? 'Close group' : 'Leave group') : null));
    clear(detail, section(`Group: ${group.name}`, ...parts));
  }

  // -- create --------------------------------------------------------------------------------
  const name = h('input', { type: 'text', name: 'name', required: true, autocomplete: 'off' });
  const topic = h('input', { type: 'text', name: 'topic', autocomplete: 'off' });
  const members = h('fieldset', null, h('legend', { text: 'Members' }));
  const scope = scopeFields();
  const createForm = onSubmit(h('form', { class: 'grid-form' }, field('Group name', name), field('Group topic', topic), members, scope.el,
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Create group'))), async () => {
    const chosen = [...members.querySelectorAll('input:checked')].map((box) => box.value);
    if (!chosen.length) throw new Error('Choose at least one member: a group needs another node.');
    const made = await api('/api/groups', { method: 'POST', signal, body: { name: name.value.trim(), topic: topic.value.trim(), members: chosen, ...scope.body() } });
    const invited = Object.values(made.invitations ?? {});
    info(`Created ${made.name}. Invitations: ${invited.join('; ') || 'none'}.`);
    name.value = '';
    await Promise.all([loadList(), open(made.group_id)]);
  });

  async function loadPeers() {
    const peers = await api('/api/peers', { signal });
    members.append(...(peers.length ? peers.map((p) => checkbox(`${p.name || p.display_name || 'unnamed'} (${shortId(p.peer_id, 16)})`, { value: p.peer_id, name: 'members' }).el)
      : [h('p', { class: 'empty', text: 'No known peers yet: join a network first.' })]));
  }

  root.append(
    h('h1', { tabindex: -1, text: title }),
    section('Your groups', listBox),
    detail,
    section('Create a group', createForm),
  );
  act(null, loadList);
  act(null, loadPeers);
}
