import { test } from "node:test";
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer } from "node:net";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ephemeralPortState, formatPorts, listenConflictHint, localPortHolders, LINUX_PORT_FILES, parsePortRanges, reserveCommand, reserveEphemeralPorts, type PortFiles } from "../src/index.js";

const PLAN = [24100, 50051, 50052, 50053, 50054, 50055, 9101];

/** The two sysctl files as the kernel shows them, in a temp dir (the real ones belong to the host). */
function sysctls(range: string, reserved: string): PortFiles & { done(): void } {
  const dir = mkdtempSync(join(tmpdir(), "timenet-ports-"));
  const files = { range: join(dir, "ip_local_port_range"), reserved: join(dir, "ip_local_reserved_ports") };
  writeFileSync(files.range, range);
  writeFileSync(files.reserved, reserved);
  return { ...files, done: () => rmSync(dir, { recursive: true, force: true }) };
}

test("port lists: the kernel's format, parsed and written back", () => {
  assert.deepEqual(parsePortRanges("8080,50051-50055\n"), [
    [8080, 8080],
    [50051, 50055],
  ]);
  assert.deepEqual(parsePortRanges("\n"), []);
  assert.throws(() => parsePortRanges("80-"), /not a port or port range: "80-"/);
  assert.equal(formatPorts([50055, 50051, 50053, 50052, 50054, 50057, 50057]), "50051-50055,50057");
  assert.equal(formatPorts([]), "");
});

test("only the plan's ports inside the ephemeral range are exposed; today's reservations are kept", () => {
  const f = sysctls("32768\t60999\n", "8080,50052\n");
  try {
    const s = ephemeralPortState(PLAN, f);
    assert.ok(s);
    assert.deepEqual(s.range, [32768, 60999]);
    assert.deepEqual(s.exposed, [50051, 50053, 50054, 50055], "24100 and 9101 lie below the range; 50052 is reserved");
    assert.equal(s.wanted, "8080,50052,50051,50053-50055");
    assert.equal(reserveCommand(s), "sysctl -w net.ipv4.ip_local_reserved_ports=8080,50052,50051,50053-50055");
  } finally {
    f.done();
  }
});

test("reserveEphemeralPorts writes the merged list once; afterwards nothing is exposed", () => {
  const f = sysctls("32768\t60999\n", "\n");
  try {
    const first = reserveEphemeralPorts(PLAN, f);
    assert.equal(first.kind, "reserved");
    assert.equal(readFileSync(f.reserved, "utf8"), "50051-50055");
    assert.equal(reserveEphemeralPorts(PLAN, f).kind, "already");
    // A host whose range was moved below the plan's ports exposes none of them.
    writeFileSync(f.range, "60000\t65000\n");
    writeFileSync(f.reserved, "\n");
    assert.equal(reserveEphemeralPorts(PLAN, f).kind, "already");
  } finally {
    f.done();
  }
});

test("reserveEphemeralPorts never throws: no files is 'unsupported', a refused write says why", () => {
  assert.equal(reserveEphemeralPorts(PLAN, { range: "/nonexistent/range", reserved: "/nonexistent/reserved" }).kind, "unsupported");
  const f = sysctls("32768\t60999\n", "\n");
  try {
    // A sysctl that even root cannot write (as /proc/sys in a container, read-only): it reads "65536", a valid port list.
    const out = reserveEphemeralPorts(PLAN, { range: f.range, reserved: "/proc/sys/kernel/ngroups_max" });
    assert.equal(out.kind, "refused");
    assert.ok(out.kind === "refused" && /^E[A-Z]+$/.test(out.reason), `reason ${out.kind === "refused" ? out.reason : ""}`);
    assert.ok(out.kind === "refused" && out.state.wanted === "65536,50051-50055");
    // A list the kernel would never write is no sysctl at all, not a crash.
    writeFileSync(f.reserved, "garbage\n");
    assert.equal(reserveEphemeralPorts(PLAN, f).kind, "unsupported");
  } finally {
    f.done();
  }
});

test("listenConflictHint: only EADDRINUSE on an exposed port gets the sysctl", () => {
  const f = sysctls("32768\t60999\n", "50052\n");
  try {
    const inUse = Object.assign(new Error("listen EADDRINUSE: address already in use 127.0.0.1:50051"), { code: "EADDRINUSE" });
    assert.equal(
      listenConflictHint(inUse, 50051, f),
      " (port 50051 lies in this host's ephemeral range 32768-60999: an outbound connection may hold it; keep it for listening with  sysctl -w net.ipv4.ip_local_reserved_ports=50052,50051)",
      "without the socket tables the hint says 'may'",
    );
    assert.equal(listenConflictHint(inUse, 50052, f), "", "reserved: another process listens there");
    assert.equal(listenConflictHint(inUse, 24100, f), "", "below the range");
    assert.equal(listenConflictHint(new Error("listen EACCES"), 50051, f), "", "not a conflict");
    // grpc-js reports the errno inside its message, without a code.
    assert.match(listenConflictHint(new Error("No address added out of total 1 resolved: bind EADDRINUSE"), 50051, f), /ip_local_reserved_ports=50052,50051/);
  } finally {
    f.done();
  }
});

test("localPortHolders reads the kernel's socket tables: a listener, and a client's local port with its remote end", async () => {
  const server = createServer((s) => s.on("error", () => {}));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const serverPort = (server.address() as { port: number }).port;
  const client = connect({ host: "127.0.0.1", port: serverPort });
  await once(client, "connect");
  try {
    const tables = LINUX_PORT_FILES.tcp!;
    const atServer = localPortHolders(serverPort, tables);
    assert.equal(atServer?.listening, true, "the listener (its accepted connection shares the port)");
    const atClient = localPortHolders(client.localPort!, tables);
    assert.deepEqual(atClient, { listening: false, connections: [`127.0.0.1:${serverPort}`] });
    assert.equal(localPortHolders(serverPort, ["/nonexistent/tcp"]), undefined);
  } finally {
    client.destroy();
    server.close();
  }
});
