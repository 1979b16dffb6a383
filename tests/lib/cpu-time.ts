/**
 * CPU milliseconds this process spends in `fn` (process.cpuUsage: user + system). Timing bounds in
 * unit tests use CPU time rather than wall time: the shared test hosts run many jobs at once (load
 * averages of 30 on 2 cores were seen), which stretches wall time tenfold, while the quadratic
 * behaviour these bounds catch costs seconds to minutes of CPU however busy the host is.
 */
export function cpuMs<T>(fn: () => T): { ms: number; value: T } {
  const before = process.cpuUsage();
  const value = fn();
  const used = process.cpuUsage(before);
  return { ms: (used.user + used.system) / 1000, value };
}
