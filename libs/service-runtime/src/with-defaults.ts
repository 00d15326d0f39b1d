/**
 * The options a caller gave, over a component's documented defaults: every
 * key of `defaults` that the caller left undefined takes its default. The
 * defaults object is the one place a default is written (the env schema
 * reads its defaults from it too).
 */
export function withDefaults<D extends object>(defaults: D, given: { [K in keyof D]?: D[K] | undefined }): D {
  const out = { ...defaults };
  for (const key of Object.keys(defaults) as Array<keyof D>) {
    const v = given[key];
    if (v !== undefined) out[key] = v as D[keyof D];
  }
  return out;
}
