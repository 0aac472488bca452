/**
 * Credential checking for the handshake, in constant time.
 *
 * @module
 */

/** A `[username, password]` pair the server accepts. */
export type Credential = readonly [username: string, password: string];

const encoder = new TextEncoder();

// Compares in time that depends only on the lengths, never on where the bytes differ.
function equal(a: string, b: string): boolean {
  const x = encoder.encode(a);
  const y = encoder.encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < Math.max(x.length, y.length); i++) diff |= (x[i] ?? 0) ^ (y[i] ?? 0);
  return diff === 0;
}

/**
 * Whether `username`/`password` pass: they match one of `accepted`, or `accepted` is empty and
 * both are empty. Every pair is compared, so the time does not tell which one matched.
 */
export function checkCredentials(
  accepted: readonly Credential[],
  username: string | null,
  password: string | null,
): boolean {
  if (accepted.length === 0) return !username && !password;
  let ok = false;
  for (const [user, pass] of accepted) {
    const match = equal(user, username ?? "") && username !== null;
    ok = (equal(pass, password ?? "") && password !== null && match) || ok;
  }
  return ok;
}
