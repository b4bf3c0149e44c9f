// Which contenders carry the bars, and the order they are measured in within a round.
/** Issue 6's bars against the two competitors: the full pipeline's req/s over theirs, at least. */
export const COMPETITOR_BARS = [
  ['fast-gateway', 1.7],
  ['fastify', 1.5],
];

/**
 * The order of one round. The contenders whose ratios carry the bars are measured back to
 * back, the full pipeline between the bare proxy and one of the two competitors (which swap sides
 * every two rounds), the others before them: this machine's speed drifts by ±20 % over tens of
 * seconds, and a ratio of two measurements a few seconds apart varies half as much as one of two
 * measurements half a round apart (bench/JOURNAL.md, "Adjacent measurements"). Every other round
 * runs in reverse: a drift within a round then favours no contender for its place in the line.
 */
export function roundOrder(rows, round) {
  const [a, b] = COMPETITOR_BARS.map(([id]) => id);
  const pair = Math.floor((round - 1) / 2) % 2 === 0 ? [b, a] : [a, b];
  const block = [pair[0], 'undici', 'tessera-full', 'tessera-limited', pair[1]];
  const rest = rows.filter((r) => !block.includes(r.id));
  const ordered = [...rest, ...block.map((id) => rows.find((r) => r.id === id)).filter((r) => r !== undefined)];
  return round % 2 ? ordered : ordered.reverse();
}
