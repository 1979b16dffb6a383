import { mount } from 'svelte';
import App from './App.svelte';
import UpdateNotice from './ui/UpdateNotice.svelte';
import { ServiceWorkerUpdates } from './app/updates.svelte.ts';
import './ui/app.css';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');
export default mount(App, { target });

// The service worker caches the shell (tools/pwa/sw-plugin.mjs) so the app loads offline, and says
// when a new build is ready. Only in a built app: the dev server's modules change on every edit.
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  navigator.serviceWorker.register('./sw.js', { scope: './' }).then(
    (registration: ServiceWorkerRegistration | undefined) => {
      // Automation that blocks service workers (Playwright's serviceWorkers: 'block') resolves
      // register() without a registration: no worker, so no updates to watch.
      if (!registration) return;
      const notice = document.body.appendChild(document.createElement('div'));
      mount(UpdateNotice, { target: notice, props: { updates: new ServiceWorkerUpdates(registration) } });
    },
    (err: unknown) => {
      console.warn('Chorus: the service worker could not be registered, so the app will not work offline:', err);
    },
  );
}
