// The app shell: header, navigation, message areas and the page router.

import { logout } from './api.js';
import { refreshHeader } from './header.js';
import { clearMessages, setup, showError } from './notify.js';
import { startRouter } from './router.js';
import * as chat from './pages/chat.js';
import * as memory from './pages/memory.js';
import * as training from './pages/training.js';
import * as network from './pages/network.js';
import * as grants from './pages/grants.js';
import * as groups from './pages/groups.js';

const pages = { chat, memory, training, network, grants, groups };

setup(document.getElementById('error-area'), document.getElementById('status-area'));
document.getElementById('logout').addEventListener('click', () => logout().catch(showError));
document.getElementById('skip-link').addEventListener('click', (event) => {
  event.preventDefault();
  document.getElementById('main').focus();
});
window.addEventListener('unhandledrejection', (event) => showError(event.reason));
// A file dropped beside the drop zone must not make the browser leave the app to show it.
for (const type of ['dragover', 'drop']) {
  window.addEventListener(type, (event) => {
    if (event.dataTransfer?.types.includes('Files')) event.preventDefault();
  });
}

startRouter(pages, {
  outlet: document.getElementById('main'),
  fallback: 'chat',
  onChange(name, page) {
    clearMessages();
    document.title = `${page.title} · Second Me`;
    for (const link of document.querySelectorAll('nav.pages a')) {
      if (link.getAttribute('href') === `#/${name}`) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
  },
});
refreshHeader();
