// The devnet scripts' options. They run before the build (they start it), so
// they cannot use @timenet/testkit's parseCommandLine; this is its small
// sibling for two scripts: --help lists the options, and an unknown option or
// a bad number ends the script with one line, not a stack trace.
import { parseArgs } from "node:util";

/** Options as parseArgs takes them, each with `help` (its meaning) and, for a value, `arg` (its placeholder). */
export function devnetCommandLine(command, about, options) {
  const die = (message) => {
    console.error(`${command}: ${message}`);
    process.exit(2);
  };
  let values;
  try {
    const spec = Object.fromEntries(Object.entries(options).map(([k, { type, default: d }]) => [k, d === undefined ? { type } : { type, default: d }]));
    ({ values } = parseArgs({ options: { ...spec, help: { type: "boolean" } }, strict: true }));
  } catch (err) {
    die(`${err.message.split("\n")[0]} (see --help)`);
  }
  if (values.help) {
    const names = Object.entries(options).map(([k, o]) => (o.type === "boolean" ? `--${k}` : `--${k} ${o.arg}`));
    const pad = Math.max(...names.map((n) => n.length));
    console.log(`usage: ${command} -- [options]\n\n${about}\n\noptions:`);
    Object.values(options).forEach((o, i) => console.log(`  ${names[i].padEnd(pad)}  ${o.help}${o.type === "string" ? ` (default ${o.default})` : ""}`));
    process.exit(0);
  }
  /** A whole number within [min, max], else the script ends naming the option. */
  const int = (name, min, max) => {
    const n = Number(values[name]);
    if (values[name].trim() === "" || !Number.isInteger(n) || n < min || n > max) die(`--${name} takes a whole number in ${min}..${max}, not "${values[name]}"`);
    return n;
  };
  return { values, int };
}
