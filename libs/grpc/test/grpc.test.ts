import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { credentials, loadPackageDefinition, status, type Client, type GrpcObject, type ServiceClientConstructor } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";
import { Direction, GatewayService } from "@timenet/proto";
import { holdOutboundPort } from "@timenet/testkit";
import { createGrpcClient, GrpcStatusError, startGrpcServer, type GrpcServerHandle, type ServiceImpl } from "../src/index.js";

const impl: ServiceImpl<typeof GatewayService> = {
  getInfo: () => ({ network: "devnet" }),
  listConnections: () => ({ connections: [{ ip: "127.0.0.2", port: 24100, direction: Direction.OUTBOUND, bytesIn: 5n }] }),
  disconnect: (req) => {
    if (req.ip === "missing") throw new GrpcStatusError(status.NOT_FOUND, "no such peer");
    if (req.ip === "boom") throw new Error("kaput");
    return { disconnected: true };
  },
};

let server: GrpcServerHandle;
before(async () => {
  server = await startGrpcServer({ port: 0, services: [{ service: GatewayService, impl }] });
});
after(async () => {
  await server.stop();
});

test("unary calls round-trip protobuf-es messages", async () => {
  const client = createGrpcClient(GatewayService, server.address);
  try {
    const res = await client.listConnections({});
    assert.equal(res.connections[0]!.ip, "127.0.0.2");
    assert.equal(res.connections[0]!.direction, Direction.OUTBOUND);
    assert.equal(res.connections[0]!.bytesIn, 5n);
    assert.equal((await client.disconnect({ ip: "127.0.0.2" })).disconnected, true);
  } finally {
    client.close();
  }
});

test("GrpcStatusError picks the status; any other error is INTERNAL", async () => {
  const client = createGrpcClient(GatewayService, server.address);
  try {
    await assert.rejects(client.disconnect({ ip: "missing" }), (e: { code: number; details: string }) => e.code === status.NOT_FOUND && e.details === "no such peer");
    await assert.rejects(client.disconnect({ ip: "boom" }), (e: { code: number; details: string }) => e.code === status.INTERNAL && e.details === "kaput");
  } finally {
    client.close();
  }
});

function loadClient(protoFile: string, includeDir: string, service: string): Client & Record<string, (...a: unknown[]) => unknown> {
  const def = loadSync(protoFile, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true, includeDirs: [includeDir] });
  let ctor: unknown = loadPackageDefinition(def);
  for (const part of service.split(".")) ctor = (ctor as GrpcObject)[part];
  return new (ctor as ServiceClientConstructor)(server.address, credentials.createInsecure()) as never;
}

test("grpc.health.v1: SERVING for the server and each service; NOT_SERVING after setServing(false)", async () => {
  const health = loadClient(healthProtoPath, dirname(healthProtoPath), "grpc.health.v1.Health");
  const check = (service: string) =>
    new Promise<string>((resolve, reject) => health.Check!({ service }, (err: Error | null, res: { status: string }) => (err ? reject(err) : resolve(res.status))));
  try {
    assert.equal(await check(""), "SERVING");
    assert.equal(await check("timenet.gateway.v1.GatewayService"), "SERVING");
    server.setServing(false);
    assert.equal(await check("timenet.gateway.v1.GatewayService"), "NOT_SERVING");
    server.setServing(true);
  } finally {
    health.close();
  }
});

for (const version of ["v1", "v1alpha"]) {
  test(`server reflection ${version}: lists services and serves descriptors with dependencies`, async () => {
    const require = createRequire(import.meta.url);
    const root = join(dirname(require.resolve("@grpc/reflection/package.json")), "build", "proto");
    const r = loadClient(join(root, `grpc/reflection/${version}/reflection.proto`), root, `grpc.reflection.${version}.ServerReflection`);
    const ask = (req: object) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const call = r.ServerReflectionInfo!() as NodeJS.EventEmitter & { write(m: object): void; end(): void };
        call.on("data", (d: Record<string, unknown>) => {
          resolve(d);
          call.end();
        });
        call.on("error", reject);
        call.write(req);
      });
    try {
      const list = (await ask({ list_services: "" })) as { list_services_response: { service: Array<{ name: string }> } };
      const names = list.list_services_response.service.map((s) => s.name);
      assert.ok(names.includes("timenet.gateway.v1.GatewayService"), names.join(","));
      assert.ok(names.includes("grpc.health.v1.Health"), names.join(","));
      const files = (await ask({ file_containing_symbol: "timenet.gateway.v1.GatewayService" })) as {
        file_descriptor_response: { file_descriptor_proto: Buffer[] };
      };
      const blobs = files.file_descriptor_response.file_descriptor_proto.map((b) => Buffer.from(b).toString("latin1"));
      assert.ok(blobs.some((b) => b.includes("timenet/gateway/v1/gateway_service.proto")));
      assert.ok(blobs.some((b) => b.includes("timenet/p2p/v1/bus.proto")));
    } finally {
      r.close();
    }
  });
}

test("a port in use is a clear error naming the address", async () => {
  await assert.rejects(startGrpcServer({ port: server.port, services: [] }), (err: Error) => {
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${server.port}`));
    assert.doesNotMatch(err.message, /ephemeral/, "another server listens there: no hint about outbound connections");
    return true;
  });
});

test("a port held by an outbound connection (run 29's EADDRINUSE) names the connection and the sysctl that reserves the port", async () => {
  // The kernel gave an outbound connection this port; a gRPC server then wants to listen on it.
  const held = await holdOutboundPort();
  try {
    const out = await startGrpcServer({ port: held.port, services: [] }).catch((err: Error) => err);
    if (!(out instanceof Error)) {
      await out.stop(); // so that a regression fails here instead of hanging the run
      assert.fail(`listening on ${held.port} succeeded`);
    }
    assert.match(out.message, new RegExp(`^cannot bind gRPC on 127\\.0\\.0\\.1:${held.port}: .*EADDRINUSE`));
    assert.match(out.message, /an outbound connection holds it \(to 127\.0\.0\.1:\d+\)/);
    assert.match(out.message, new RegExp(`sysctl -w net\\.ipv4\\.ip_local_reserved_ports=(.*,)?${held.port}(,|\\)|$)`));
  } finally {
    await held.close();
  }
});

test("messages over grpc-js's 4 MiB default pass both ways (a PutBlocks of large blocks)", async () => {
  const big = "x".repeat(6 * 1024 * 1024);
  const bigImpl: ServiceImpl<typeof GatewayService> = {
    getInfo: () => ({}),
    disconnect: (req) => ({ disconnected: req.ip.length === big.length }),
    listConnections: () => ({ connections: [{ ip: big }] }),
  };
  const bigServer = await startGrpcServer({ port: 0, services: [{ service: GatewayService, impl: bigImpl }] });
  const client = createGrpcClient(GatewayService, bigServer.address);
  try {
    assert.equal((await client.disconnect({ ip: big })).disconnected, true);
    assert.equal((await client.listConnections({})).connections[0]!.ip.length, big.length);
  } finally {
    client.close();
    await bigServer.stop();
  }
});
