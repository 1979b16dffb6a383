/**
 * "An update is ready": a new build's service worker installs, then waits until the page lets it
 * take over (tools/pwa/sw.js does not skip waiting on its own, so a running page is never
 * switched to new code under its feet). This watches the registration for a waiting worker and,
 * when the user chooses to reload, tells it to take over and reloads once it controls the page.
 */
export class ServiceWorkerUpdates {
  /** The new build's worker, installed and waiting; null while there is no update. */
  #waiting = $state<ServiceWorker | null>(null);
  #reloading = false;

  constructor(registration: ServiceWorkerRegistration, container: ServiceWorkerContainer = navigator.serviceWorker) {
    // With no controller this is the first install, which takes over by itself: nothing to offer.
    const offer = (worker: ServiceWorker | null) => {
      if (worker && container.controller) this.#waiting = worker;
    };
    // A worker may already be installing when the page gets its registration, so look at both.
    const track = (worker: ServiceWorker | null) => {
      if (worker?.state === 'installed') offer(worker);
      else worker?.addEventListener('statechange', () => {
        if (worker.state === 'installed') offer(worker);
      });
    };
    track(registration.waiting);
    track(registration.installing);
    registration.addEventListener('updatefound', () => track(registration.installing));
    container.addEventListener('controllerchange', () => {
      if (this.#reloading) location.reload();
    });
    // Browsers look for a new sw.js on every navigation; a tab left open also looks every hour.
    setInterval(() => void registration.update().catch(() => undefined), 3_600_000);
  }

  /** True while a new build is installed and waiting to take over. */
  get ready(): boolean {
    return this.#waiting !== null;
  }

  /** Lets the waiting worker take over; the page reloads when it does. */
  reload(): void {
    if (!this.#waiting) return;
    this.#reloading = true;
    this.#waiting.postMessage({ type: 'skip-waiting' });
  }
}
