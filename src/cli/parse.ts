import { type ParseArgsConfig, parseArgs } from "node:util";

export type Io = { out: NodeJS.WritableStream; err: NodeJS.WritableStream };

/**
 * parseArgs for one command, whose options include `help` (`--help`/`-h`). Returns the parsed command
 * line, or the exit code when the command stops here: the usage on stdout when asked for (0), or a
 * one-line error plus the usage on stderr for a line parseArgs refuses (2) — never its stack trace.
 */
export function parseCommand<T extends ParseArgsConfig>(
  command: string,
  usage: string,
  config: T,
  io: Io,
): ReturnType<typeof parseArgs<T>> | number {
  let parsed: ReturnType<typeof parseArgs<T>>;
  try {
    parsed = parseArgs(config);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (typeof code !== "string" || !code.startsWith("ERR_PARSE_ARGS_")) throw error;
    // "Unknown option '--x'. To specify a positional argument …": the first sentence says it all.
    const message = (error as Error).message.split(/\.(?: |$)/)[0] ?? "";
    return usageError(command, message.charAt(0).toLowerCase() + message.slice(1), usage, io);
  }
  if ((parsed.values as { help?: unknown }).help === true) {
    io.out.write(usage);
    return 0;
  }
  return parsed;
}

/** `<command>: <message>`, a blank line and the usage, on stderr; exit code 2. */
export function usageError(command: string, message: string, usage: string, io: Io): number {
  io.err.write(`${command}: ${message}\n\n${usage}`);
  return 2;
}
