// Grants: what each peer may ask of this node, within which scope and until when; the audit log.

import { api } from '../api.js';
import { checkbox, clear, field, fmtMs, h, section, select, shortId, splitList, table } from '../dom.js';
import { act, info, onSubmit } from '../notify.js';

export const title = 'Grants';

const ABILITIES = [
  ['chat/ask', 'Ask your Second Me (chat/ask)'],
  ['memory/read', 'Fetch snippets of your memory (memory/read)'],
  ['profile/read', 'Read your profile (profile/read)'],
  ['group/join', 'Add you to group discussions (group/join)'],
];
const UNITS = [['60', 'minutes'], ['3600', 'hours'], ['86400', 'days']];

// A grant's topics are labels bound to topic ids ("name#id"); `topicNames` are their names now.
export function describeScope(scope, topicNames) {
  if (!scope) return 'public profile only';
  if (scope.profile_only) return 'the profile only';
  const parts = [`layers ${scope.layers.join('+') || 'none'}`];
  if (scope.tags.length) parts.push(`tags ${scope.tags.join(', ')}`);
  const topics = topicNames || scope.topics.map((label) => label.split('#')[0]);
  if (topics.length) parts.push(`topics ${topics.join(', ')}`);
  if (scope.profile) parts.push('the profile');
  return parts.join('; ');
}

export function mount(root, { signal }) {
  let names = new Map();
  const nameOf = (peerId) => names.get(peerId) || shortId(peerId, 16);
  const givenBox = h('div', { class: 'table-wrap' });
  const receivedBox = h('div', { class: 'table-wrap' });
  const auditBox = h('div', { class: 'table-wrap' });

  async function loadGrants() {
    const peers = await api('/api/peers', { signal });
    names = new Map(peers.map((p) => [p.peer_id, p.name || p.display_name]));
    clear(peer, peers.length ? peers.map((p) => h('option', { value: p.peer_id, text: `${p.name || p.display_name || 'unnamed'} (${shortId(p.peer_id, 16)})` }))
      : h('option', { value: '', text: 'No known peers: join a network first' }));
    const grants = await api('/api/grants', { signal });
    const revokeButton = (g, label) => h('button', { type: 'button', class: 'danger', 'aria-label': `${label} grant ${g.id}`,
      on: { click: (e) => revoke(g, e.currentTarget, label) } }, label);
    clear(givenBox, table('Grants you gave', ['Grant', 'Peer', 'Abilities', 'Scope', 'Expires', 'Uses', 'State', ''], grants.given.map((g) => [
      h('code', { text: g.id }), nameOf(g.peer_id), g.abilities.join(', '), describeScope(g.scope, g.topic_names), fmtMs(g.expires_ms),
      `${g.uses ?? 0}${g.max_uses ? ` of ${g.max_uses}` : ''}${g.rate ? ` (${g.rate})` : ''}`,
      g.delivery_error ? `${g.state}, not delivered: ${g.delivery_error}` : g.state,
      g.state === 'active' ? revokeButton(g, 'Revoke') : '',
    ]), 'You have given no grants.'));
    clear(receivedBox, table('Grants you received', ['Grant', 'From', 'Abilities', 'Scope', 'Expires', 'State', ''], grants.received.map((g) => [
      h('code', { text: g.id }), nameOf(g.issuer), g.abilities.join(', '), describeScope(g.scope, g.topic_names), fmtMs(g.expires_ms),
      `${g.state}${g.delegable ? ', delegable' : ''}`,
      g.state === 'active' ? revokeButton(g, 'Decline') : '',
    ]), 'No peer has given you a grant.'));
  }

  function revoke(grant, button, label) {
    if (!confirm(`${label} grant ${grant.id}? It ends at once.`)) return;
    act(button, async () => {
      const done = await api(`/api/grants/${encodeURIComponent(grant.full_id)}`, { method: 'DELETE', signal });
      info(`Grant ${done.revoked} ended${done.notified.length ? '; the peer was told' : ''}.`);
      await Promise.all([loadGrants(), loadAudit()]);
    });
  }

  async function loadAudit() {
    const entries = await api('/api/audit', { query: { limit: 100 }, signal });
    clear(auditBox, table('Requests peers made (newest first)', ['When', 'Peer', 'Request', 'Ability', 'Grant', 'Decision', 'Shared'], entries.map((e) => [
      fmtMs(e.at_ms), nameOf(e.peer_id), e.request, e.ability ?? '—', e.grant_id ?? '—',
      h('span', { class: e.decision === 'allowed' ? 'online' : 'offline', text: e.code ? `${e.decision} (${e.code})` : e.decision }),
      e.shared.length ? `${e.shared.length}: ${e.shared.slice(0, 3).join(', ')}${e.shared.length > 3 ? '…' : ''}` : '—',
    ]), 'No peer has asked anything yet.'));
  }

  // -- the form ------------------------------------------------------------------------------
  const peer = h('select', { name: 'peer', required: true });
  const abilities = ABILITIES.map(([value, label]) => ({ value, ...checkbox(label, { name: 'abilities', value, checked: value === 'chat/ask' }) }));
  const tags = h('input', { type: 'text', name: 'tags', autocomplete: 'off' });
  const topics = h('input', { type: 'text', name: 'topics', autocomplete: 'off', list: 'topic-names' });
  const topicNames = h('datalist', { id: 'topic-names' });
  const l0 = checkbox('Your own words (L0)', { checked: true });
  const l1 = checkbox('What the node understood (L1)', { checked: true });
  const profile = checkbox('Include your L1 profile');
  const profileOnly = checkbox('The profile only, no memory');
  const amount = h('input', { type: 'number', name: 'expires', min: 1, value: 7, required: true, inputmode: 'numeric' });
  const unit = select(UNITS, { name: 'unit' });
  unit.value = '86400';
  const uses = h('input', { type: 'number', name: 'uses', min: 1, inputmode: 'numeric' });
  const rate = h('input', { type: 'text', name: 'rate', placeholder: '10/min', autocomplete: 'off' });
  const delegable = checkbox('Delegable: may be handed on, narrowed');

  const form = onSubmit(h('form', { class: 'grid-form' },
    field('Peer', peer),
    h('fieldset', null, h('legend', { text: 'Abilities' }), abilities.map((a) => a.el)),
    h('fieldset', null, h('legend', { text: 'Scope' }),
      field('Tags', tags, 'Comma separated; empty: any tag.'), field('Topics', topics, 'Comma separated L1 topic names; empty: any topic.'), topicNames,
      l0.el, l1.el, profile.el, profileOnly.el),
    h('fieldset', null, h('legend', { text: 'Limits' }),
      h('div', { class: 'inline' }, field('Expires in', amount), field('Unit', unit)),
      field('Uses', uses, 'Optional: how many requests in all.'), field('Rate', rate, 'Optional, like 10/min.'), delegable.el),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Create grant'))), async () => {
    const chosen = abilities.filter((a) => a.box.checked).map((a) => a.value);
    if (!peer.value) throw new Error('Choose a peer: a grant is for a peer this node knows.');
    if (!chosen.length) throw new Error('Choose at least one ability.');
    const body = {
      peer: peer.value, abilities: chosen, tags: splitList(tags.value), topics: splitList(topics.value),
      layers: [l0.box.checked && 'l0', l1.box.checked && 'l1'].filter(Boolean),
      profile: profile.box.checked, profile_only: profileOnly.box.checked,
      expires_s: Number(amount.value) * Number(unit.value), delegable: delegable.box.checked,
    };
    if (uses.value) body.uses = Number(uses.value);
    if (rate.value.trim()) body.rate = rate.value.trim();
    const grant = await api('/api/grants', { method: 'POST', body, signal });
    info(`Grant ${grant.id} given to ${nameOf(grant.peer_id)}${grant.delivery_error ? ` (not delivered yet: ${grant.delivery_error})` : ''}.`);
    await loadGrants();
  });

  // -- policy --------------------------------------------------------------------------------
  const policy = select([['refuse', 'are refused'], ['public-profile', 'may read your public profile fields']], { name: 'policy' });
  const policyForm = onSubmit(h('form', { class: 'inline' }, field('Nodes without a grant', policy),
    h('button', { type: 'submit' }, 'Save policy')), async () => {
    await api('/api/access/policy', { method: 'PUT', body: { default_policy: policy.value }, signal });
    info('Policy saved.');
  });

  const auditRefresh = h('button', { type: 'button', on: { click: () => act(auditRefresh, loadAudit) } }, 'Refresh audit log');
  root.append(
    h('h1', { tabindex: -1, text: title }),
    h('p', { class: 'lead', text: 'Nothing of your memory leaves this node unless a grant you gave covers it.' }),
    section('Given', givenBox),
    section('Received', receivedBox),
    section('Create a grant', form),
    section('Audit log', auditRefresh, auditBox),
    section('Default policy', policyForm),
  );
  act(null, async () => {
    await loadGrants(); // the audit log names peers by the names this learns
    await loadAudit();
  });
  act(null, async () => {
    policy.value = (await api('/api/access/policy', { signal })).default_policy;
    const list = await api('/api/memory/topics', { signal });
    clear(topicNames, list.map((t) => h('option', { value: t.name })));
  });
}
