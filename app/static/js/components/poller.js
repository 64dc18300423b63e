// Repeat an async task every `intervalMs` while the page is visible; stop() ends it.

/** Run `task` now and then every `intervalMs` after each run ends; paused while the tab is hidden. */
export function poll(task, intervalMs) {
  let timer = null;
  let stopped = false;
  const tick = async () => {
    timer = null;
    if (stopped) return;
    if (!document.hidden) {
      try {
        await task();
      } catch (error) {
        console.warn("poll failed:", error);
      }
    }
    if (!stopped) timer = setTimeout(tick, intervalMs);
  };
  const wake = () => {
    if (!document.hidden && timer !== null) {
      clearTimeout(timer);
      tick();
    }
  };
  document.addEventListener("visibilitychange", wake);
  tick();
  return {
    now: wake,
    stop() {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener("visibilitychange", wake);
    },
  };
}
