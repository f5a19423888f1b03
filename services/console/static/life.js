// Life owns what a page starts (timers, fetches, streams) and stops all of it when the page is
// left: one AbortSignal for requests, and timers that end with it.
export class Life {
  constructor() {
    this.ctl = new AbortController();
    this.timers = [];
  }

  get signal() {
    return this.ctl.signal;
  }

  get done() {
    return this.ctl.signal.aborted;
  }

  // every runs f now and then every ms milliseconds, never two at once, until the page is left.
  every(ms, f) {
    let timer = null;
    const tick = async () => {
      if (this.done) return;
      try {
        await f();
      } catch (e) {
        if (!this.done && e.name !== 'AbortError') this.onError(e);
      }
      if (!this.done) timer = setTimeout(tick, ms);
    };
    this.timers.push(() => clearTimeout(timer));
    tick();
  }

  // child is a Life that ends with this one, or earlier with its own stop.
  child() {
    const c = new Life();
    c.onError = this.onError;
    this.signal.addEventListener('abort', () => c.stop(), {once: true});
    return c;
  }

  stop() {
    this.ctl.abort();
    for (const t of this.timers) t();
    this.timers = [];
  }

  // onError is where failures of timed work go; pages replace it to show them.
  onError(e) {
    console.warn(e);
  }
}
