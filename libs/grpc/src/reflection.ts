import { toBinary, type DescFile, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { loadSync, type PackageDefinition } from "@grpc/proto-loader";
import { protoPath as healthProtoPath } from "grpc-health-check";

/**
 * The proto-loader-shaped package definition that @grpc/reflection reads:
 * each entry carries the serialized FileDescriptorProtos of its file and
 * every file it depends on. Built from the protobuf-es descriptors, plus the
 * health service, so grpcurl can describe everything the server offers.
 */
export function reflectionPackage(services: DescService[]): PackageDefinition {
  const pkg: Record<string, unknown> = {};
  for (const s of services) {
    const files = new Map<string, Buffer>();
    collect(s.file, files);
    pkg[s.typeName] = { fileDescriptorProtos: [...files.values()] };
  }
  const health = loadSync(healthProtoPath, { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true });
  return { ...health, ...(pkg as PackageDefinition) };
}

function collect(file: DescFile, out: Map<string, Buffer>): void {
  if (out.has(file.name)) return;
  out.set(file.name, Buffer.from(toBinary(FileDescriptorProtoSchema, file.proto)));
  for (const dep of file.dependencies) collect(dep, out);
}
