import { watch } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import type { ConfigHolder } from "./holder.ts";

/**
 * Reloads the config when its file changes (watching the directory, since
 * editors and ConfigMap updates replace the file rather than write it) or on
 * SIGHUP. Bursts of file events within `debounceMs` cause one reload.
 */
export function watchConfig(holder: ConfigHolder, file: string, debounceMs = 100): () => void {
  const path = resolve(file);
  const name = basename(path);
  let timer: NodeJS.Timeout | undefined;
  const reload = () => {
    clearTimeout(timer);
    timer = setTimeout(() => holder.reloadFromFile(path), debounceMs);
  };
  const watcher = watch(dirname(path), (_event, changed) => {
    if (changed === null || changed === name || changed.startsWith("..")) reload();
  });
  const onHup = () => holder.reloadFromFile(path);
  process.on("SIGHUP", onHup);
  return () => {
    clearTimeout(timer);
    watcher.close();
    process.off("SIGHUP", onHup);
  };
}
