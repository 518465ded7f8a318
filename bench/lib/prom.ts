/**
 * Reading the server's /metrics text in the bench: the sum of one sample name
 * over all its label sets (`name` or `name{...}`), 0 when it is absent.
 */
export function metricSum(exposition: string, name: string): number {
  let n = 0;
  for (const line of exposition.split("\n")) {
    if (line.startsWith(name) && (line[name.length] === "{" || line[name.length] === " ")) n += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return n;
}
