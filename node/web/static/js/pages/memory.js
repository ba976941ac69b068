// Memory: add files, see what the node holds and understood (L1), search it, forget things.

import { api, upload } from '../api.js';
import { clear, field, fmtBytes, fmtTime, h, section, select, splitList, table, truncate, poll } from '../dom.js';
import { act, info, onSubmit, showError } from '../notify.js';
import { graph } from '../svg.js';

export const title = 'Memory';
const MAX_GRAPH_NODES = 60;

/** What L1 is doing about one document, from the L1 job list. */
function l1State(doc, status) {
  if (doc.l1) {
    if (doc.l1.state === 'failed') return h('span', { class: 'failed', title: doc.l1.error ?? '', text: `failed: ${truncate(doc.l1.error ?? '', 80)}` });
    if (doc.l1.state === 'running' && status?.running?.target === doc.id) return `working (${status.running.kind})`;
    return doc.l1.state === 'pending' ? 'waiting' : doc.l1.state;
  }
  if (!status) return '…';
  if (status.running?.target === doc.id) return `working (${status.running.kind})`;
  if (status.pending.some((job) => job.target === doc.id)) return 'waiting';
  const failed = status.failed.find((job) => job.target === doc.id);
  if (failed) return h('span', { class: 'failed', title: failed.error, text: `failed: ${truncate(failed.error, 80)}` });
  return status.enabled ? 'done' : 'L1 is off';
}

/** What one upload did: for an export, what it found and how much of it was new. */
function uploadNote(result) {
  const chunks = result.chunks ? `, ${result.chunks} chunk${result.chunks === 1 ? '' : 's'}` : '';
  if (!result.found) return `${result.status}${chunks}${result.message ? `: ${result.message}` : ''}`;
  let line = `${result.status}: ${result.found.line}`;
  if (result.found.messages != null && result.new_messages != null) {
    line += result.new_messages ? ` (${result.new_messages.toLocaleString()} new)` : ' (all in memory already)';
  }
  return [line, ...(result.notes ?? [])].join(' · ');
}

function hitItem(hit) {
  const src = hit.source;
  const where = src ? src.title || src.name || src.path : `L1 ${hit.kind}: ${hit.title}`;
  return h('li', null,
    h('span', { class: 'source-where', text: where }),
    h('small', { text: ` score ${hit.score.toFixed(3)}${hit.tags?.length ? ` · tags ${hit.tags.join(', ')}` : ''}` }),
    h('q', { text: truncate(hit.text, 400) }));
}

export function mount(root, { signal }) {
  let status = null;
  let documents = [];
  let stopPolling = null;
  const queue = [];

  // -- adding files ------------------------------------------------------------------------
  const picker = h('input', { type: 'file', multiple: true, name: 'files' });
  const tags = h('input', { type: 'text', name: 'tags', autocomplete: 'off' });
  const me = h('input', { type: 'text', name: 'me', autocomplete: 'off' });
  const uploads = h('ul', { class: 'uploads', 'aria-label': 'Files to upload' });
  const uploadButton = h('button', { type: 'button', class: 'primary' }, 'Upload');
  const zone = h('div', { class: 'dropzone' },
    h('p', { text: 'Drop files here (documents, chat exports of WhatsApp, Telegram or ChatGPT, mailboxes, notes, photos, voice notes), or choose them:' }),
    field('Choose files', picker));

  function addFiles(files) {
    for (const file of files) {
      const bar = h('progress', { max: 1, value: 0, 'aria-label': `Upload of ${file.name}` });
      const note = h('span', { class: 'note', text: `${fmtBytes(file.size)}, ready` });
      uploads.append(h('li', null, h('span', { class: 'name', text: file.name }), bar, note));
      queue.push({ file, bar, note });
    }
    info(`${queue.length} file(s) ready: press Upload.`);
  }

  picker.addEventListener('change', () => {
    addFiles(picker.files);
    picker.value = '';
  });
  zone.addEventListener('dragover', (event) => {
    event.preventDefault();
    zone.classList.add('over');
  });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    addFiles(event.dataTransfer.files);
  });

  uploadButton.addEventListener('click', () => act(uploadButton, async () => {
    if (!queue.length) throw new Error('Choose or drop some files first.');
    let failed = 0;
    for (const item of queue.splice(0)) {
      item.note.textContent = 'uploading…';
      try {
        const result = await upload(item.file, { tags: splitList(tags.value), me: me.value.trim(), onProgress: (f) => (item.bar.value = f) });
        item.bar.value = 1;
        item.note.textContent = uploadNote(result);
      } catch (error) {
        failed += 1;
        item.note.textContent = `failed: ${error.message}`;
        item.note.classList.add('failed');
        showError(error);
      }
    }
    if (!failed) info('Upload finished; the node is now reading what it got.');
    await refresh();
  }));

  // -- documents and L1 state ---------------------------------------------------------------
  const l1Line = h('p', { class: 'l1-state', 'aria-live': 'polite' });
  const docsBox = h('div', { class: 'table-wrap' });

  function renderDocuments() {
    clear(docsBox, table('Documents in memory', ['Document', 'Tags', 'Chunks', 'Size', 'Added', 'L1', ''], documents.map((doc) => [
      h('span', { title: doc.path, text: doc.title || doc.name }),
      doc.tags.join(', '),
      String(doc.chunks),
      fmtBytes(doc.size),
      fmtTime(doc.ingested_at),
      l1State(doc, status),
      h('button', { type: 'button', class: 'danger', 'aria-label': `Forget ${doc.name}`, on: { click: (e) => forget(doc, e.currentTarget) } }, 'Forget'),
    ]), 'No documents yet: add some files above.'));
  }

  function forget(doc, button) {
    if (!confirm(`Forget ${doc.name}? Its chunks and everything L1 made only from it are removed.`)) return;
    act(button, async () => {
      await api(`/api/memory/documents/${encodeURIComponent(doc.id)}`, { method: 'DELETE' });
      info(`Forgot ${doc.name}.`);
      await Promise.all([refresh(), loadUnderstanding()]); // profile versions made from it are gone
    });
  }

  async function loadStatus() {
    const wasBusy = status && status.state !== 'idle';
    status = await api('/api/memory/status', { signal });
    const { done, total } = status.progress;
    l1Line.textContent = !status.enabled ? 'L1 is switched off (memory.l1_enabled).'
      : status.state === 'idle' ? `L1 is up to date (${done} of ${total} jobs done, ${status.counts.failed} failed).`
      : `L1 is ${status.state}${status.running ? ` (${status.running.kind})` : ''}: ${done} of ${total} jobs done.`;
    renderDocuments();
    if (status.state !== 'idle' && !stopPolling) {
      stopPolling = poll(async () => {
        await loadStatus();
        return status.state !== 'idle';
      }, 3000, signal, showError);
    }
    if (status.state === 'idle') {
      stopPolling?.();
      stopPolling = null;
      if (wasBusy) await loadUnderstanding();
    }
    return status;
  }

  async function refresh() {
    documents = await api('/api/memory/documents', { signal });
    await loadStatus();
  }

  // -- search --------------------------------------------------------------------------------
  const query = h('input', { type: 'search', name: 'query', required: true });
  const layer = select([['l0', 'Your words (L0)'], ['l1', 'What the node understood (L1)'], ['all', 'Both']], { name: 'layer' });
  const hits = h('div', { 'aria-live': 'polite' });
  const searchForm = onSubmit(h('form', { class: 'inline' }, field('Search memory', query), field('Layer', layer),
    h('button', { type: 'submit' }, 'Search')), async () => {
    const found = await api('/api/memory/search', { method: 'POST', body: { query: query.value, layer: layer.value, k: 10 }, signal });
    clear(hits, found.length ? h('ol', { class: 'hits' }, found.map(hitItem)) : h('p', { class: 'empty', text: 'Nothing found.' }));
  });

  // -- L1: topics, profile, entities ---------------------------------------------------------
  const topicsBox = h('div');
  const profileBox = h('div');
  const version = select([], { name: 'version' });
  const entitiesBox = h('div');

  function renderProfile(profile) {
    clear(version, profile.versions.length ? null : h('option', { value: '', text: 'none yet' }),
      profile.versions.slice().reverse().map((v) => h('option', { value: v, text: `version ${v}`, selected: v === profile.version })));
    if (!profile.version) {
      clear(profileBox, h('p', { class: 'empty', text: 'No profile yet: it is written once your memory holds something.' }));
      return;
    }
    clear(profileBox,
      h('h3', { text: 'In your words' }), h('p', { text: profile.first_person }),
      h('h3', { text: 'As others would say' }), h('p', { text: profile.third_person }),
      profile.recently ? [h('h3', { text: 'Recently' }), h('p', { text: profile.recently })] : null,
      h('p', { class: 'hint', text: `Made ${fmtTime(profile.created_at)} (${profile.method}).` }));
  }

  function renderEntities(entities) {
    const chosen = entities.slice(0, MAX_GRAPH_NODES);
    const index = new Map(chosen.map((e, i) => [e.name, i]));
    const edges = [];
    const lines = [];
    chosen.forEach((entity, i) => {
      for (const rel of entity.relations) {
        if (rel.direction !== 'out' || !index.has(rel.other)) continue;
        edges.push([i, index.get(rel.other), rel.label]);
        lines.push(`${entity.name} — ${rel.label} — ${rel.other}`);
      }
    });
    if (!chosen.length) {
      clear(entitiesBox, h('p', { class: 'empty', text: 'No people, places or things found yet.' }));
      return;
    }
    const nodes = chosen.map((e) => ({ label: e.name, kind: e.kind, size: e.chunks.length, owner: e.owner }));
    clear(entitiesBox,
      graph(nodes, edges, { title: `Entity graph: ${nodes.length} entities, ${edges.length} relations` }),
      h('p', { class: 'legend-line' }, ['person', 'place', 'organization', 'thing'].map((k) => h('span', { class: `key kind-${k}`, text: k }))),
      h('details', null, h('summary', { text: `Relations as a list (${lines.length})` }),
        lines.length ? h('ul', null, lines.map((l) => h('li', { text: l }))) : h('p', { text: 'None yet.' })),
      entities.length > chosen.length ? h('p', { class: 'hint', text: `Showing the ${chosen.length} most mentioned of ${entities.length}.` }) : null);
  }

  async function loadProfile(v) {
    renderProfile(await api('/api/memory/profile', { query: { version: v }, signal }));
  }

  async function loadUnderstanding() {
    const [topics, entities] = await Promise.all([api('/api/memory/topics', { signal }), api('/api/memory/entities', { signal })]);
    clear(topicsBox, topics.length ? h('ul', { class: 'topics' }, topics.map((t) => h('li', null,
      h('h3', { text: t.name }),
      t.description ? h('p', { text: t.description }) : null,
      h('p', { class: 'hint', text: `${t.documents.length} document(s) · ${t.chunks.length} chunk(s) · confidence ${t.confidence}${t.terms.length ? ` · ${t.terms.slice(0, 6).join(', ')}` : ''}` }),
    ))) : h('p', { class: 'empty', text: 'No topics yet.' }));
    renderEntities(entities);
    await loadProfile();
  }

  version.addEventListener('change', () => act(version, () => loadProfile(version.value)));

  root.append(
    h('h1', { tabindex: -1, text: title }),
    section('Add files', zone, field('Tags', tags, 'Optional, comma separated; grants can share by tag.'),
      field('Your name in chats', me, 'Optional: how chat exports name you, if not your profile\'s name.'), uploadButton, uploads),
    section('Documents', l1Line, docsBox),
    section('Search', searchForm, hits),
    section('Topics', topicsBox),
    section('Profile', field('Profile version', version), profileBox),
    section('People, places and things', entitiesBox),
  );
  act(null, refresh);
  act(null, loadUnderstanding);
}
