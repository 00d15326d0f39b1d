import { get } from "node:https";

/** GET `url` over HTTPS with the operator CA (and a client cert when given): its status and body. */
export function httpsGet(url: string, o: { ca: Buffer; cert?: Buffer; key?: Buffer }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { ca: o.ca, cert: o.cert, key: o.key }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (d: string) => (body += d));
      res.once("end", () => resolve({ status: res.statusCode ?? 0, body }));
    }).once("error", reject);
  });
}

/** The status of an HTTPS GET, or 0 when it cannot connect (not yet listening). */
export async function httpsStatus(url: string, o: { ca: Buffer; cert?: Buffer; key?: Buffer }): Promise<number> {
  return httpsGet(url, o).then(
    (r) => r.status,
    () => 0,
  );
}
