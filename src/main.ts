import { mount } from 'svelte';
import App from './App.svelte';
import './ui/app.css';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');
export default mount(App, { target });

// The service worker precaches the whole build (tools/pwa/sw-plugin.mjs) so the app loads offline.
// Only in a built app: the dev server's modules change on every edit.
if (import.meta.env.PROD && 'serviceWorker' in navigator) {
  navigator.serviceWorker.register('./sw.js', { scope: './' }).catch((err: unknown) => {
    console.warn('Chorus: the service worker could not be registered, so the app will not work offline:', err);
  });
}
