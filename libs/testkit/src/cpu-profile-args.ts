/**
 * The Node flags that make a service write a V8 CPU profile when it exits, if
 * the environment asks for one: TIMENET_CPU_PROF_DIR names the folder, and
 * with TIMENET_CPU_PROF_MATCH only services whose main path contains it are
 * profiled (the profiler slows what it profiles: one part at a time keeps the
 * rest at speed). One contract for tests, benches and the devnet (see the
 * README's bench and devnet sections).
 */
export function cpuProfileArgs(mainPath: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const dir = env.TIMENET_CPU_PROF_DIR;
  if (!dir || !mainPath.includes(env.TIMENET_CPU_PROF_MATCH ?? "")) return [];
  return ["--cpu-prof", `--cpu-prof-dir=${dir}`];
}
