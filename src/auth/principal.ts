/** Who is calling: everything a request may know about its caller, from a verified token only. */
export const ACCESS_LEVELS = ["read", "edit", "full", "root"] as const;
export type Access = (typeof ACCESS_LEVELS)[number];

export interface Principal {
  readonly tenant: string;
  readonly sub: string;
  readonly access: Access;
  /** Token expiry, epoch seconds. */
  readonly exp: number;
  /**
   * The operator credential: the token carries `operator: true` and was signed
   * by this server's own key (only `npm run token -- --operator` mints it), or
   * by the external issuer for exactly the configured AUTH_OPERATOR_SUBJECT.
   * No access level implies it: a tenant's `root` token is not an operator.
   */
  readonly operator: boolean;
}

/** True when `have` is at least `need` on the read < edit < full < root scale. */
export function accessAllows(have: Access, need: Access): boolean {
  return ACCESS_LEVELS.indexOf(have) >= ACCESS_LEVELS.indexOf(need);
}
