import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A throwaway self-signed certificate for 127.0.0.1, made fresh per run; `remove` deletes its files. */
export function makeTestCertificate(): { certFile: string; keyFile: string; ca: Buffer; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "switchyard-tls-"));
  const certFile = join(dir, "cert.pem");
  const keyFile = join(dir, "key.pem");
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "1",
      "-subj",
      "/CN=127.0.0.1",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
    ],
    { stdio: "ignore" },
  );
  return {
    certFile,
    keyFile,
    ca: readFileSync(certFile),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
