// Network: the networks this node is in, their members, invites (with a QR code) and joining.

import { api } from '../api.js';
import { clear, field, fmtMs, h, section, select, shortId, splitList, table } from '../dom.js';
import { act, info, onSubmit } from '../notify.js';

export const title = 'Network';

const EXPIRIES = [['3600', '1 hour'], ['86400', '24 hours'], ['604800', '7 days'], ['2592000', '30 days']];

export function mount(root, { signal }) {
  let networks = [];
  let qrUrl = null;
  signal.addEventListener('abort', () => qrUrl && URL.revokeObjectURL(qrUrl));

  const listBox = h('div', { class: 'table-wrap' });
  const membersBox = h('div', { 'aria-live': 'polite' });
  const invitesBox = h('div', { class: 'table-wrap' });
  const inviteNetwork = select([], { name: 'network' });

  async function loadNetworks() {
    networks = await api('/api/networks', { signal });
    // Members may not invite; only owners and inviters get the form's choices.
    const canInvite = networks.filter((n) => n.status === 'active' && n.role !== 'member');
    clear(inviteNetwork, canInvite.length ? canInvite.map((n) => h('option', { value: n.network_id, text: n.name }))
      : h('option', { value: '', text: 'none you may invite to: create a network first' }));
    clear(listBox, table('Networks', ['Name', 'Your role', 'Status', 'Members', 'Last synced', ''], networks.map((n) => [
      h('span', { title: n.network_id, text: n.name }),
      n.role, n.sync_error ? `${n.status} (sync failed: ${n.sync_error})` : n.status, String(n.members), fmtMs(n.synced_ms),
      n.status !== 'active' ? '' : h('div', { class: 'row' },
        h('button', { type: 'button', 'aria-label': `Members of ${n.name}`, on: { click: (e) => act(e.currentTarget, () => loadMembers(n)) } }, 'Members'),
        n.role === 'owner'
          ? h('button', { type: 'button', class: 'danger', 'aria-label': `Close ${n.name}`, on: { click: (e) => leave(n, e.currentTarget, true) } }, 'Close')
          : h('button', { type: 'button', class: 'danger', 'aria-label': `Leave ${n.name}`, on: { click: (e) => leave(n, e.currentTarget, false) } }, 'Leave')),
    ]), 'This node is in no network yet: create one, or join one with an invite token.'));
  }

  async function loadMembers(network) {
    clear(membersBox, h('p', { text: `Asking the members of ${network.name} whether they are online…` }));
    const answer = await api(`/api/networks/${encodeURIComponent(network.network_id)}/members`, { signal });
    clear(membersBox,
      answer.stale ? h('p', { class: 'failed', text: `The discovery server did not answer (${answer.stale}); this list may be old.` }) : null,
      table(`Members of ${network.name}`, ['Name', 'Peer ID', 'Role', 'State', 'Joined'], answer.members.map((m) => [
        m.display_name || '—', h('code', { title: m.peer_id, text: shortId(m.peer_id, 20) }), m.role,
        m.self ? 'you' : h('span', { class: m.online ? 'online' : 'offline', text: m.online ? `online${m.latency_ms != null ? ` (${m.latency_ms.toFixed(1)} ms)` : ''}` : 'offline' }),
        fmtMs(m.joined_ms),
      ])));
  }

  function leave(network, button, close) {
    const verb = close ? 'Close' : 'Leave';
    const warning = close ? ' Every membership and invite ends.' : '';
    if (!confirm(`${verb} the network ${network.name}?${warning}`)) return;
    act(button, async () => {
      const path = `/api/networks/${encodeURIComponent(network.network_id)}`;
      await api(close ? path : `${path}/leave`, { method: close ? 'DELETE' : 'POST', signal });
      info(`${close ? 'Closed' : 'Left'} ${network.name}.`);
      await loadNetworks();
    });
  }

  async function loadInvites() {
    const invites = await api('/api/invites', { signal });
    clear(invitesBox, table('Invites you issued', ['Invite', 'Network', 'Role', 'Uses', 'Expires', 'State', ''], invites.map((inv) => {
      const live = !inv.revoked_ms && !inv.expired;
      return [shortId(inv.invite_id), inv.network, inv.role, String(inv.uses), fmtMs(inv.expires_ms),
        inv.revoked_ms ? 'revoked' : inv.expired ? 'expired' : 'open',
        live ? h('button', { type: 'button', class: 'danger', 'aria-label': `Revoke invite ${shortId(inv.invite_id)}`, on: { click: (e) => act(e.currentTarget, async () => {
          await api(`/api/invites/${encodeURIComponent(inv.invite_id)}`, { method: 'DELETE', signal });
          await loadInvites();
        }) } }, 'Revoke') : ''];
    }), 'No invites issued.'));
  }

  // -- create a network ----------------------------------------------------------------------
  const netName = h('input', { type: 'text', name: 'name', required: true, autocomplete: 'off' });
  const discovery = h('textarea', { name: 'discovery', rows: 2, required: true, placeholder: '/ip4/203.0.113.5/tcp/4001/p2p/12D3KooW…' });
  const createForm = onSubmit(h('form', { class: 'grid-form' }, field('Network name', netName),
    field('Discovery servers', discovery, 'One multiaddr per line, as `secondme-discovery` prints it.'),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Create network'))), async () => {
    const made = await api('/api/networks', { method: 'POST', body: { name: netName.value.trim(), discovery: splitList(discovery.value) }, signal });
    info(`Created network ${made.name}.`);
    netName.value = '';
    await loadNetworks();
  });

  // -- invite --------------------------------------------------------------------------------
  const uses = h('input', { type: 'number', name: 'uses', min: 1, value: 1, inputmode: 'numeric' });
  const expires = select(EXPIRIES, { name: 'expires' });
  expires.value = '86400';
  const role = select([['member', 'member'], ['inviter', 'inviter (may invite members)']], { name: 'role' });
  const inviteOut = h('div', { 'aria-live': 'polite' });
  const inviteForm = onSubmit(h('form', { class: 'grid-form' }, field('Network', inviteNetwork), field('Uses', uses),
    field('Expires in', expires), field('Role', role),
    h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Create invite'))), async () => {
    const invite = await api('/api/invites', { method: 'POST', signal, body: {
      network: inviteNetwork.value || undefined, uses: Number(uses.value), expires_s: Number(expires.value), role: role.value } });
    const token = h('textarea', { readonly: true, rows: 3, class: 'token', value: invite.token });
    const copy = h('button', { type: 'button', on: { click: () => act(copy, async () => {
      await navigator.clipboard.writeText(invite.token);
      info('Invite token copied.');
    }) } }, 'Copy token');
    const img = h('img', { class: 'qr', alt: `QR code of the invite token to ${invite.network}`, width: 240, height: 240 });
    clear(inviteOut, field('Token to share', token, `For ${invite.network}: ${invite.uses} use(s), expires ${fmtMs(invite.expires_ms)}. They run: secondme-node join TOKEN, or paste it under Join.`), copy, img);
    token.addEventListener('focus', () => token.select());
    const blob = await api('/api/qr', { method: 'POST', body: { text: invite.token }, signal });
    if (qrUrl) URL.revokeObjectURL(qrUrl);
    img.src = qrUrl = URL.createObjectURL(blob);
    await loadInvites();
  });

  // -- join, refresh -------------------------------------------------------------------------
  const tokenInput = h('input', { type: 'text', name: 'token', required: true, autocomplete: 'off', spellcheck: 'false', placeholder: 'smi1…' });
  const joinForm = onSubmit(h('form', { class: 'inline' }, field('Invite token', tokenInput),
    h('button', { type: 'submit', class: 'primary' }, 'Join')), async () => {
    const joined = await api('/api/join', { method: 'POST', body: { token: tokenInput.value.trim() }, signal });
    info(`Joined ${joined.name} as ${joined.role}: ${joined.members} member(s).`);
    tokenInput.value = '';
    await loadNetworks();
  });

  const refreshButton = h('button', { type: 'button', on: { click: () => act(refreshButton, async () => {
    const report = await api('/api/networks/refresh', { method: 'POST', signal });
    const failed = report.failed.map((f) => f.error).join('; ');
    info(`Registered with ${report.registered} discovery server(s)${report.removed.length ? `; removed from ${report.removed.join(', ')}` : ''}.`);
    await loadNetworks();
    if (failed) throw new Error(`Some discovery servers did not answer: ${failed}`);
  }) } }, 'Refresh');

  root.append(
    h('h1', { tabindex: -1, text: title }),
    section('Your networks', h('div', { class: 'row' }, refreshButton), listBox, membersBox),
    section('Join a network', joinForm),
    section('Invite someone', inviteForm, inviteOut, invitesBox),
    section('Create a network', createForm),
  );
  act(null, loadNetworks);
  act(null, loadInvites);
}
