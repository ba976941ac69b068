// The header line: who this node is and which model answers.

import { api } from './api.js';
import { clear, h, shortId } from './dom.js';
import { showError } from './notify.js';

export async function refreshHeader() {
  const info = document.getElementById('node-info');
  try {
    const [me, status] = await Promise.all([api('/api/me'), api('/api/status')]);
    const adapter = status.l2?.adapter;
    const training = status.l2?.training;
    clear(
      info,
      h('strong', { text: me.fields?.name || 'Your node' }),
      ' · ',
      h('span', { title: status.peer_id, text: shortId(status.peer_id, 16) }),
      ' · ',
      `model ${status.chat_model}${adapter ? ` + adapter ${adapter}` : ''}`,
      training ? ` · training (${training.stage})` : '',
    );
  } catch (error) {
    info.textContent = 'Node unavailable';
    showError(error);
  }
}
