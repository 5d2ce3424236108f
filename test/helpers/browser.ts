import { existsSync } from "node:fs";
import type { TestContext } from "node:test";
import type { Browser } from "playwright-core";

/** Debian's chromium (`.ci/run` installs it); never a browser downloaded at run time. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/**
 * Headless Chromium through playwright-core, or undefined when it is not installed: then the test is
 * skipped with a visible message, except under CI=true, where a missing browser fails the run.
 * The flags keep it off the network (this machine has none) and out of a root sandbox.
 */
export async function launchChromium(t: TestContext): Promise<Browser | undefined> {
  if (!existsSync(CHROMIUM)) {
    const message = `${CHROMIUM} is not installed (apt-get install chromium): browser test not run`;
    if (process.env.CI === "true") throw new Error(message);
    t.skip(message);
    return undefined;
  }
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
