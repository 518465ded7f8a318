/** Who is calling: everything a request may know about its caller, from a verified token only. */
export const ACCESS_LEVELS = ["read", "edit", "full", "root"] as const;
export type Access = (typeof ACCESS_LEVELS)[number];

export interface Principal {
  readonly tenant: string;
  readonly sub: string;
  readonly access: Access;
  /** Token expiry, epoch seconds. */
  readonly exp: number;
}

/** True when `have` is at least `need` on the read < edit < full < root scale. */
export function accessAllows(have: Access, need: Access): boolean {
  return ACCESS_LEVELS.indexOf(have) >= ACCESS_LEVELS.indexOf(need);
}
