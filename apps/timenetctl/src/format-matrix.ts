import type { MatrixCell } from "./connection-matrix.js";
import { formatTable, type Column } from "./format-table.js";
import { rttLabel, sinceLabel } from "./status-labels.js";

const RED = "\u001b[31m";
const RESET = "\u001b[0m";

export const MATRIX_LEGEND = "→ the row host dialled the column host, ← the column host dialled it; then the connection's age and last RTT";

function cellText(cell: MatrixCell, now: number): string {
  switch (cell.state) {
    case "self":
      return "--";
    case "missing":
      return "MISSING";
    case "unknown":
      return "?";
    default:
      return `${cell.state === "outbound" ? "→" : "←"} ${sinceLabel(cell.connectedSinceMs, now)} ${cell.rttMs > 0 ? `${rttLabel(cell.rttMs)}ms` : "-"}`;
  }
}

/**
 * The N×N connection matrix: a row per host, a column per host. With `color`
 * (stdout is a terminal) MISSING is red; otherwise the plain word.
 */
export function formatMatrix(names: readonly string[], matrix: readonly MatrixCell[][], now: number, color: boolean): string {
  const columns: Column[] = [{ header: "" }, ...names.map((header) => ({ header }))];
  const rows = matrix.map((cells, r) => [names[r]!, ...cells.map((cell) => cellText(cell, now))]);
  const paint = color ? (cell: string) => (cell === "MISSING" ? `${RED}${cell}${RESET}` : cell) : undefined;
  return `${formatTable(columns, rows, paint)}\n${MATRIX_LEGEND}`;
}
