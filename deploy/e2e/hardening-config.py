# Reads `docker-compose config` (YAML on stdin) and prints "ok N" (N services)
# or what is not hardened (deploy/e2e/hardening.sh, deploy/README.md "Hardening").
# PyYAML: docker-compose v1's own dependency.
import sys

import yaml

c = yaml.safe_load(sys.stdin)
bad = []
for name, s in c["services"].items():
    for key, want in (("read_only", True), ("cap_drop", ["ALL"])):
        if s.get(key) != want:
            bad.append(f"{name}: {key} is {s.get(key)!r}")
    if "no-new-privileges:true" not in (s.get("security_opt") or []):
        bad.append(f"{name}: no no-new-privileges")
    for key in ("mem_limit", "pids_limit", "healthcheck"):
        if not s.get(key):
            bad.append(f"{name}: no {key}")
    # The gRPC ports kept out of the container's ephemeral range (an outbound
    # connection given one of them makes the service's listen fail).
    if str((s.get("sysctls") or {}).get("net.ipv4.ip_local_reserved_ports")) != "50051-50055":
        bad.append(f"{name}: sysctls do not reserve 50051-50055: {s.get('sysctls')!r}")
    # Swap is not extra memory: the limit is the limit.
    if s.get("memswap_limit") != s.get("mem_limit"):
        bad.append(f"{name}: memswap_limit {s.get('memswap_limit')} is not mem_limit {s.get('mem_limit')}")
prom = c["services"]["prometheus"]["image"]
grafana = c["services"]["grafana"]
if not prom.startswith("prom/prometheus:v"):
    bad.append(f"prometheus image not pinned: {prom}")
if not grafana["image"].split(":")[-1][:1].isdigit():
    bad.append(f"grafana image not pinned: {grafana['image']}")
# No admin/admin: the entrypoint that refuses it, and no default password.
if grafana.get("entrypoint") != ["/bin/sh", "/etc/grafana/entrypoint.sh"]:
    bad.append(f"grafana entrypoint is {grafana.get('entrypoint')!r}")
if (grafana.get("environment") or {}).get("GF_SECURITY_ADMIN_PASSWORD") not in ("", None):
    bad.append("grafana has a default admin password")
print("; ".join(bad) if bad else f"ok {len(c['services'])}")
