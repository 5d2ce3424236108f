import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, statSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import { setTimeout as sleep } from "node:timers/promises";

/** Where each side runs on the 2-core machine: gateways alone on one core, everything else on the other. */
export const CORES = { gateway: 1, loadgen: 0 } as const;

let tasksetPath: string | null | undefined;
export function hasTaskset(): boolean {
  if (tasksetPath === undefined) tasksetPath = which("taskset");
  return tasksetPath !== null && os.cpus().length >= 2;
}

export function which(command: string): string | null {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (!dir) continue;
    try {
      execFileSync("test", ["-x", `${dir}/${command}`]);
      return `${dir}/${command}`;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/** Pins every thread of a process to one core (threads it starts later inherit it). False when not possible. */
export function pin(pid: number, core: number): boolean {
  if (!hasTaskset()) return false;
  try {
    execFileSync("taskset", ["-a", "-cp", String(core), String(pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/**
 * utime + stime of a process so far, in microseconds (resolution: one clock tick, usually 10 ms); with
 * `children`, also what its exited children used (wrk, check-config).
 */
export function cpuMicros(pid: number, children = false): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks =
    Number(fields[11]) + Number(fields[12]) + (children ? Number(fields[13]) + Number(fields[14]) : 0);
  return (ticks * 1e6) / ticksPerSecond();
}

/** Resident set size in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
  return kb === undefined ? Number.NaN : Number(kb) * 1024;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function cpuModel(): string {
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    return /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? os.cpus()[0]?.model ?? "unknown";
  } catch {
    return os.cpus()[0]?.model ?? "unknown";
  }
}

/** TCP ports a process listens on, from its socket inodes and /proc/net/tcp{,6}. */
export function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
        const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
        if (inode) inodes.add(inode);
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return [];
  }
  const ports: number[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text = "";
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === "0A" && cols[9] !== undefined && inodes.has(cols[9])) {
        ports.push(Number.parseInt(cols[1]?.split(":")[1] ?? "0", 16));
      }
    }
  }
  return ports;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export type Child = {
  name: string;
  pid: number;
  port: number;
  proc: ChildProcess;
  /** Where its stdout and stderr go. */
  logFile: string;
  /** The last lines it printed, for error messages. */
  tail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
};

export type StartOptions = {
  name: string;
  command: string;
  args: string[];
  /** stdout and stderr go to this file (a server's log is not read by the bench while it runs). */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  core?: number;
  timeoutMs?: number;
  /** The port from a line of output, when this line announces it. */
  portOf?: (line: string) => number | undefined;
  /** Also look for a listening socket of the process (for servers that do not print their port). */
  probeSockets?: boolean;
};

/** `{"port": N}` anywhere in a JSON log line. */
export function jsonPort(line: string): number | undefined {
  if (!line.startsWith("{") || !line.includes('"port"')) return undefined;
  try {
    const port = (JSON.parse(line) as { port?: unknown }).port;
    return typeof port === "number" && port > 0 ? port : undefined;
  } catch {
    return undefined;
  }
}

function lastLines(file: string, n: number): string {
  try {
    const size = statSync(file).size;
    const fd = openSync(file, "r");
    try {
      const length = Math.min(size, 16_384);
      const buffer = Buffer.alloc(length);
      readSync(fd, buffer, 0, length, size - length);
      return buffer.toString("utf8").split("\n").slice(-n).join("\n");
    } finally {
      closeSync(fd);
    }
  } catch {
    return "";
  }
}

/** Starts a server process, pins it, and waits (bounded) until it says or shows which port it listens on. */
export async function startProcess(options: StartOptions): Promise<Child> {
  const out = openSync(options.logFile, "w");
  const proc = spawn(options.command, options.args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", out, out],
  });
  closeSync(out);
  let exited = false;
  proc.once("exit", () => {
    exited = true;
  });
  const pid = proc.pid;
  if (pid === undefined) throw new Error(`${options.name}: could not start ${options.command}`);
  if (options.core !== undefined) pin(pid, options.core);
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let port: number | undefined;
  let readUpTo = 0;
  while (port === undefined && !exited && Date.now() < deadline) {
    await sleep(50);
    if (options.portOf) {
      const text = readFileSync(options.logFile, "utf8");
      const end = text.lastIndexOf("\n") + 1;
      for (const line of text.slice(readUpTo, end).split("\n")) port ??= options.portOf(line);
      readUpTo = end;
    }
    if (options.probeSockets && port === undefined) port = listeningPorts(pid)[0];
  }
  const tail = () => lastLines(options.logFile, 15);
  if (port === undefined) {
    proc.kill("SIGKILL");
    throw new Error(`${options.name} did not start (${exited ? "exited" : "timed out"}):\n${tail()}`);
  }
  if (options.core !== undefined) pin(pid, options.core); // threads started meanwhile
  return {
    name: options.name,
    pid,
    port,
    proc,
    logFile: options.logFile,
    tail,
    async stop(graceMs = 3000) {
      if (exited) return;
      const gone = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
      await gone;
      clearTimeout(timer);
    },
  };
}

/** Busy CPU time of the whole machine so far (every core, every process), in microseconds. */
export function machineBusyMicros(): number {
  const first = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  const f = first.trim().split(/\s+/).slice(1).map(Number);
  const at = (i: number) => f[i] ?? 0;
  // user nice system idle iowait irq softirq steal: everything but idle and iowait
  return ((at(0) + at(1) + at(2) + at(5) + at(6) + at(7)) * 1e6) / ticksPerSecond();
}

export function loadAverage(): string {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  } catch {
    return "n/a";
  }
}
