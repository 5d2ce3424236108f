// Preloaded into the peer gateway (node --import): servers that listen without naming a host would bind every
// interface; the bench keeps all traffic on loopback, so a listen() without a host gets 127.0.0.1.
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
  if (typeof args[0] === "number" && (args[1] === undefined || typeof args[1] === "function")) {
    args.splice(1, args[1] === undefined ? 1 : 0, "127.0.0.1");
  }
  return (listen as (...a: unknown[]) => net.Server).apply(this, args);
} as typeof listen;
