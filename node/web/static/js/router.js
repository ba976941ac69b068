// A hash router: #/name picks a page; each page gets a fresh <main> and an AbortSignal that
// fires when the owner leaves it, which ends its requests, streams and polling.

export function startRouter(pages, { outlet, fallback, onChange }) {
  let controller = null;
  let first = true;

  function render() {
    const hash = location.hash;
    if (hash && !hash.startsWith('#/') && !first) return; // an in-page link such as #main
    const [name, ...rest] = hash.replace(/^#\/?/, '').split('/');
    const page = pages[name];
    if (!page) {
      location.replace(`#/${fallback}`);
      if (first) render();
      return;
    }
    controller?.abort();
    controller = new AbortController();
    outlet.replaceChildren();
    onChange(name, page);
    page.mount(outlet, { signal: controller.signal, params: rest.map(decodeURIComponent) });
    if (!first) outlet.querySelector('h1')?.focus();
    first = false;
  }

  window.addEventListener('hashchange', render);
  render();
}
