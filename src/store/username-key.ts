// The form in which usernames are unique: Unicode NFKC (so compatibility look-alikes such as
// full-width letters or ligatures fold together) and lower case.
export function usernameKey(username: string): string {
  return username.normalize('NFKC').toLowerCase()
}
