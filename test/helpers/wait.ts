/** Fails instead of hanging when what a test waits for never happens (e.g. an upstream never aborted). */
export async function within<T>(promise: Promise<T>, what: string, ms = 5000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up waiting ${ms} ms for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * For state nothing announces (a file written by a background flush, a log line written after the
 * answer): true once `ready` holds, checked every `everyMs`; false after `ms`.
 */
export async function eventually(ready: () => boolean, ms = 3000, everyMs = 10): Promise<boolean> {
  const end = Date.now() + ms;
  while (!ready()) {
    if (Date.now() >= end) return false;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  return true;
}
