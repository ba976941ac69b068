// Training (L2): start a job, follow its stages and loss, choose which adapter serves.

import { api } from '../api.js';
import { checkbox, clear, field, fmtBytes, fmtTime, h, poll, section, select, splitList, table, truncate } from '../dom.js';
import { refreshHeader } from '../header.js';
import { act, info, onSubmit, showError } from '../notify.js';
import { lineChart } from '../svg.js';

export const title = 'Training';

const STAGE_NAMES = {
  synth: 'Synthesize data', base: 'Prepare base model', sft: 'LoRA SFT', dpo: 'DPO',
  export: 'Export to GGUF', eval: 'Evaluate', swap: 'Swap into the daemon',
};

/** Each stage's [step, loss] points: the node keeps them with a finished stage's figures and
 * in the live progress of a running one. */
function lossSeries(job) {
  const live = job.progress?.losses ?? {};
  let steps = job.progress?.total ?? 0;
  const series = ['sft', 'dpo'].map((stage) => {
    const facts = job.stages[stage];
    if (facts?.steps) steps = Math.max(steps, facts.steps);
    const points = (facts?.losses ?? live[stage] ?? []).map(([x, y]) => [Number(x), y]);
    return { name: stage.toUpperCase(), cls: `s-${stage}`, points };
  }).filter((one) => one.points.length);
  return { series, steps };
}

function stageNote(name, job, facts) {
  if (facts) {
    const bits = [`done in ${facts.seconds ?? '?'} s`];
    if (facts.final_loss != null) bits.push(`final loss ${facts.final_loss.toFixed(3)}`);
    if (facts.skipped) bits.push(facts.skipped);
    if (facts.counts) bits.push(Object.entries(facts.counts).map(([k, v]) => `${v} ${k}`).join(', '));
    if (facts.after) bits.push(`held-out log-lik ${facts.before.answer_logprob.toFixed(3)} → ${facts.after.answer_logprob.toFixed(3)}`);
    return bits.join(' · ');
  }
  if (job.params?.dry_run && name !== 'synth') return 'not run (dry run)';
  if (name !== job.stage) return 'waiting';
  const p = job.progress ?? {};
  if (job.state !== 'running') return job.state;
  return p.total ? `step ${p.step} of ${p.total}${p.loss != null ? `, loss ${p.loss.toFixed(3)}` : ''}` : 'running';
}

function metric(metrics, key, format) {
  if (!metrics?.before || !metrics?.after) return '—';
  return `${format(metrics.before[key])} → ${format(metrics.after[key])}`;
}

export function mount(root, { signal }) {
  let polling = null;

  // -- start form -----------------------------------------------------------------------------
  const preset = select([['quick', 'quick (minutes on a laptop)'], ['full', 'full (every layer, 3 epochs)']], { name: 'preset' });
  const steps = h('input', { type: 'number', name: 'steps', min: 1, inputmode: 'numeric' });
  const samples = h('input', { type: 'number', name: 'samples', min: 4, max: 20000, inputmode: 'numeric' });
  const exclude = h('input', { type: 'text', name: 'exclude', autocomplete: 'off' });
  const dry = checkbox('Dry run (make the training data only)', { name: 'dry_run' });
  const form = onSubmit(h('form', { class: 'grid-form' },
    field('Preset', preset), field('Steps', steps, 'Optional: SFT steps instead of the preset’s.'),
    field('Samples', samples, 'Optional: how many examples to make (4 to 20000).'),
    field('Exclude topics', exclude, 'Optional, comma separated: kept out of the data.'),
    dry.el, h('div', { class: 'row' }, h('button', { type: 'submit', class: 'primary' }, 'Start training'))), async () => {
    const body = { preset: preset.value, exclude_topics: splitList(exclude.value), dry_run: dry.box.checked };
    if (steps.value) body.steps = Number(steps.value);
    if (samples.value) body.samples = Number(samples.value);
    render(await api('/api/train', { method: 'POST', body, signal }));
    info(dry.box.checked ? 'Dry run started: making the training data.' : 'Training started.');
  });

  // -- job status ----------------------------------------------------------------------------
  const jobBox = h('div', { 'aria-live': 'polite' });
  const chartBox = h('div');
  const actions = h('div', { class: 'row' });
  const dataBox = h('div');

  function render(status) {
    const job = status.job;
    clear(actions);
    if (!job) {
      clear(jobBox, h('p', { class: 'empty', text: 'No training job yet.' }));
      clear(chartBox);
      return;
    }
    const p = job.progress ?? {};
    clear(jobBox,
      h('p', null, h('strong', { text: `Job ${job.id}` }), ` · ${job.state}${job.params?.dry_run ? ' (dry run)' : ''} · stage ${job.stage} · started ${fmtTime(job.created_at)}`),
      job.error ? h('p', { class: 'failed', text: job.error }) : null,
      h('ol', { class: 'stages' }, status.stages.map((name) => {
        const facts = job.stages[name];
        const bar = h('progress', { max: 1, 'aria-label': STAGE_NAMES[name] ?? name });
        if (facts) bar.value = 1;
        else if (name === job.stage && p.stage === name && p.total) bar.value = p.step / p.total;
        else if (!(name === job.stage && job.state === 'running')) bar.value = 0;
        // A running stage with no step count yet stays indeterminate (no value).
        return h('li', null, h('span', { class: 'stage-name', text: STAGE_NAMES[name] ?? name }), bar,
          h('span', { class: 'note', text: stageNote(name, job, facts) }));
      })));
    const { series, steps } = lossSeries(job);
    clear(chartBox, series.length
      ? lineChart(series, { title: 'Training loss by step', xLabel: 'step', yLabel: 'loss', xMin: 0, xMax: steps || undefined })
      : job.params?.dry_run ? null
      : h('p', { class: 'empty', text: 'The loss curve fills in while SFT and DPO run.' }));
    if (job.state === 'running') {
      actions.append(h('button', { type: 'button', class: 'danger', on: { click: (e) => act(e.currentTarget, cancel) } }, 'Cancel training'));
      if (!polling) polling = poll(follow, 2000, signal, showError);
    } else if (['interrupted', 'failed'].includes(job.state)) {
      actions.append(h('button', { type: 'button', on: { click: (e) => act(e.currentTarget, () => resume(job.id)) } }, 'Resume'));
    }
    if (job.dataset) {
      actions.append(h('button', { type: 'button', on: { click: (e) => act(e.currentTarget, () => showData(job.dataset)) } }, 'Show training data'));
    }
  }

  async function follow() {
    const status = await api('/api/train/status', { signal });
    render(status);
    if (status.job?.state === 'running') return true;
    polling = null;
    await Promise.all([loadModels(), refreshHeader()]);
    return false;
  }

  async function cancel() {
    render(await api('/api/train/cancel', { method: 'POST', signal }));
    info('Training cancelled.');
  }

  async function resume(id) {
    render(await api('/api/train', { method: 'POST', body: { resume: true, job: id }, signal }));
  }

  async function showData(version) {
    const data = await api('/api/train/data', { query: { version }, signal });
    const counts = Object.entries(data.counts).map(([k, v]) => `${v} ${k}`).join(', ');
    clear(dataBox,
      h('h3', { text: `Training data, version ${data.version}` }),
      h('p', { text: counts + (data.excluded_topics.length ? ` · excluded: ${data.excluded_topics.join(', ')}` : '') }),
      table(`Samples of version ${data.version}`, ['Kind', 'Question', 'Answer', 'Topic', 'Sources'], data.samples.slice(0, 50).map((one) => [
        one.kind, one.question, truncate(one.answer, 300), one.topic ?? '—', String(one.sources.length),
      ]), 'No samples.'),
      data.samples.length > 50 ? h('p', { class: 'hint', text: `The first 50 of ${data.samples.length}.` }) : null);
  }

  // -- models --------------------------------------------------------------------------------
  const modelsBox = h('div', { class: 'table-wrap' });

  async function choose(button, path, body) {
    await act(button, async () => {
      renderModels(await api(path, { method: 'POST', body, signal }));
      info('The next answer uses the model marked serving.');
      await refreshHeader();
    });
  }

  function renderModels(models) {
    clear(modelsBox,
      table('Base models', ['Name', 'Format', 'Path'], models.base_models.map((m) => [m.name, m.format, h('code', { text: m.path })])),
      table('Adapters', ['Adapter', 'Data version', 'Made', 'Size', 'Held-out log-lik', 'Facts recalled', 'Serving', ''], models.adapters.map((a) => [
        a.id, String(a.dataset), fmtTime(a.created_at), fmtBytes(a.bytes),
        metric(a.metrics, 'answer_logprob', (v) => v.toFixed(3)),
        metric(a.metrics, 'fact_recall', (v) => `${Math.round(v * 100)}%`),
        a.active ? 'yes' : 'no',
        h('button', { type: 'button', 'aria-label': `Use ${a.id}`, disabled: a.active, on: { click: (e) => choose(e.currentTarget, '/api/models/use', { adapter: a.id }) } }, 'Use'),
      ]), 'No adapters yet: training makes one.'),
      h('p', null, `Serving: ${models.active ? `adapter ${models.active}` : 'the base model alone'}.`),
      h('div', { class: 'row' },
        h('button', { type: 'button', disabled: !models.active, on: { click: (e) => choose(e.currentTarget, '/api/models/use', { adapter: 'base' }) } }, 'Use base model'),
        h('button', { type: 'button', on: { click: (e) => choose(e.currentTarget, '/api/models/rollback') } }, 'Roll back')));
  }

  async function loadModels() {
    renderModels(await api('/api/models', { signal }));
  }

  root.append(
    h('h1', { tabindex: -1, text: title }),
    h('p', { class: 'lead', text: 'Train your own model on questions made from your memory: LoRA SFT, then DPO, then it serves.' }),
    section('Start training', form),
    section('Progress', jobBox, chartBox, actions, dataBox),
    section('Models', modelsBox),
  );
  act(null, async () => render(await api('/api/train/status', { signal })));
  act(null, loadModels);
}
